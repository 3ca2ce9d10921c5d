import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { RegisteredModel } from '../../../shared/models';
import { api } from '../api/client';
import { PathField } from '../components/PathField';
import { useAction, useCall, useEvent } from '../api/hooks';
import { Badge, Button, Card, ErrorBanner, SelectField, TextField, ListState } from '../components/ui';

const gib = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 3 : 1)} GiB`;

/** The Models list (add a GGUF file or a Hugging Face folder) and the Playground. */
export function ModelsPage() {
  const models = useCall('models.list', {});
  const reload = models.reload;
  const [lastError, setLastError] = useState<string | null>(null);
  useEvent('models.changed', reload);
  useEvent('job.updated', (j) => {
    // a full-parameter training run adds the model it wrote
    if (j.type === 'train.run' && j.state === 'succeeded' && (j.result as { modelPath?: string } | null)?.modelPath) reload();
    if (j.type !== 'model.inspect') return;
    if (j.state === 'succeeded') {
      setLastError(null);
      reload();
    }
    if (j.state === 'failed') setLastError(j.error);
  });
  return (
    <div className="page">
      <h1>Models</h1>
      <AddModelCard error={lastError} />
      <Card title="Models list">
        <ErrorBanner error={models.error} />
        <ListState
          loading={models.loading}
          items={models.data}
          loadingLabel="Loading models"
          emptyTitle="No models yet"
          empty="Add a GGUF file or a Hugging Face model folder above."
        >
          {(list) => (
            // eight columns do not fit beside the jobs panel at 1024 px: the table scrolls inside its card
            <div className="table-scroll">
              <table className="table" aria-label="Models">
                <thead>
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col">Architecture</th>
                    <th scope="col">Parameters</th>
                    <th scope="col">Dtype</th>
                    <th scope="col">Context</th>
                    <th scope="col">Runs on</th>
                    <th scope="col">Memory (inference / LoRA)</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((m) => (
                    <ModelRow key={m.id} model={m} onRemoved={reload} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </ListState>
      </Card>
      {models.data && models.data.length > 0 && <Playground models={models.data} />}
    </div>
  );
}

function AddModelCard({ error }: { error: string | null }) {
  const [path, setPath] = useState('');
  const start = useAction(async () => {
    await api.call('jobs.start', { spec: { type: 'model.inspect', params: { path: path.trim() } } });
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void start.run();
  };
  return (
    <Card title="Add a model">
      <p className="muted">
        A Hugging Face folder (config.json, *.safetensors, tokenizer.json, tokenizer_config.json) or a GGUF file. Llama, Mistral, Qwen2 and Gemma families;
        F32/F16/BF16 weights (GGUF also Q8_0).
      </p>
      <form className="inline-form" onSubmit={onSubmit}>
        <PathField
          kinds={['folder', 'file']}
          onPick={setPath}
          label="Model path"
          placeholder="/models/Llama-3.2-1B-Instruct"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          error={start.error?.message ?? error}
        />
        <Button type="submit" variant="primary" busy={start.pending} disabled={!path.trim()}>
          Add model
        </Button>
      </form>
    </Card>
  );
}

function ModelRow({ model, onRemoved }: { model: RegisteredModel; onRemoved: () => void }) {
  const i = model.info;
  const remove = useAction(async () => {
    await api.call('models.remove', { id: model.id });
    onRemoved();
  });
  const dtypes = Object.keys(i.storageDtypes).join(', ');
  return (
    <tr>
      <td title={model.path}>
        <strong>{i.name}</strong>
        <div className="muted">{i.format === 'gguf' ? 'GGUF' : 'HF folder'}</div>
      </td>
      <td>{i.architecture}</td>
      <td>{i.parameterCount.toLocaleString()}</td>
      <td>{dtypes}</td>
      <td>{i.contextLength.toLocaleString()}</td>
      <td>
        <Badge tone={i.executionProvider.name === 'cpu' ? 'neutral' : 'success'}>{i.executionProvider.name}</Badge>
        {i.executionProvider.notice && <div className="muted small">{i.executionProvider.notice}</div>}
      </td>
      <td>
        {gib(i.memory.inferenceBytes)} / {gib(i.memory.loraTrainingBytes)}
      </td>
      <td className="row-actions">
        <Button variant="ghost" onClick={() => void remove.run()} aria-label={`Remove ${i.name}`}>
          Remove
        </Button>
      </td>
    </tr>
  );
}

interface Turn {
  role: 'user' | 'assistant';
  content: string;
  note?: string;
}

function Playground({ models }: { models: RegisteredModel[] }) {
  const [modelId, setModelId] = useState(String(models[0]!.id));
  const model = models.find((m) => String(m.id) === modelId) ?? models[0]!;
  const [useChat, setUseChat] = useState(model.info.hasChatTemplate);
  const [input, setInput] = useState('');
  const [maxTokens, setMaxTokens] = useState('128');
  const [temperature, setTemperature] = useState('0');
  const [turns, setTurns] = useState<Turn[]>([]);
  const [jobId, setJobId] = useState<number | null>(null);
  const jobRef = useRef<number | null>(null);
  jobRef.current = jobId;
  useEffect(() => setUseChat(model.info.hasChatTemplate), [model]);

  useEvent('job.stream', (e) => {
    if (e.jobId !== jobRef.current) return;
    setTurns((t) => {
      const last = t[t.length - 1]!;
      return [...t.slice(0, -1), { ...last, content: last.content + e.text }];
    });
  });
  useEvent('job.updated', (j) => {
    if (j.id !== jobRef.current || ['queued', 'running'].includes(j.state)) return;
    const r = j.result as { text: string; finishReason: string; completionTokens: number; tokensPerSecond: number; executionProvider: string } | null;
    setTurns((t) => {
      const last = t[t.length - 1]!;
      const note = r
        ? `${r.completionTokens} tokens · ${r.tokensPerSecond.toFixed(1)} tok/s on ${r.executionProvider} · ${r.finishReason}`
        : (j.error ?? j.state);
      return [...t.slice(0, -1), { ...last, content: r ? r.text : last.content, note }];
    });
    setJobId(null);
  });

  const send = useAction(async () => {
    const text = input;
    const history: Turn[] = [...turns, { role: 'user', content: text }];
    setTurns([...history, { role: 'assistant', content: '' }]);
    setInput('');
    const sampling = { maxNewTokens: Number(maxTokens) || 128, temperature: Number(temperature) || 0 };
    const params = useChat
      ? { modelPath: model.path, messages: history.map((t) => ({ role: t.role, content: t.content })), sampling }
      : { modelPath: model.path, prompt: text, sampling };
    const job = await api.call('jobs.start', { spec: { type: 'engine.generate', params } });
    setJobId(job.id);
  });
  const stop = useAction(async () => {
    if (jobId !== null) await api.call('jobs.cancel', { id: jobId });
  });

  return (
    <Card
      title="Playground"
      actions={
        <Button variant="ghost" onClick={() => setTurns([])} disabled={jobId !== null}>
          Clear
        </Button>
      }
    >
      <div className="filters">
        <SelectField label="Model" value={modelId} options={models.map((m) => ({ value: String(m.id), label: m.info.name }))} onChange={setModelId} />
        <TextField label="Max tokens" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} inputMode="numeric" />
        <TextField label="Temperature" value={temperature} onChange={(e) => setTemperature(e.target.value)} inputMode="decimal" />
        <label className="checkbox">
          <input type="checkbox" checked={useChat} disabled={!model.info.hasChatTemplate} onChange={(e) => setUseChat(e.target.checked)} /> Use the model's chat
          template{!model.info.hasChatTemplate && ' (it has none: raw completion)'}
        </label>
      </div>
      <ol className="chat" aria-label="Conversation" aria-live="polite">
        {turns.map((t, i) => (
          <li key={i} className={`chat-turn chat-${t.role}`}>
            <div className="chat-role">{t.role === 'user' ? 'You' : model.info.name}</div>
            <div className="chat-text">{t.content || (jobId !== null && i === turns.length - 1 ? '…' : '')}</div>
            {t.note && <div className="muted small">{t.note}</div>}
          </li>
        ))}
      </ol>
      <ErrorBanner error={send.error ?? stop.error} />
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (input.trim() && jobId === null) void send.run();
        }}
      >
        <TextField label="Message" value={input} onChange={(e) => setInput(e.target.value)} placeholder={useChat ? 'Ask something' : 'Once upon a time'} />
        {jobId === null ? (
          <Button type="submit" variant="primary" busy={send.pending} disabled={!input.trim()}>
            Send
          </Button>
        ) : (
          <Button variant="danger" onClick={() => void stop.run()}>
            Stop
          </Button>
        )}
      </form>
    </Card>
  );
}
