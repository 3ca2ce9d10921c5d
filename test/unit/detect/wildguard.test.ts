import { describe, expect, it } from 'vitest';
import { buildWildGuardPrompt, parseWildGuardOutput, wildGuardBehaviour } from '../../../src/main/detect/model-judges/wildguard';

describe('WildGuard format', () => {
  it('renders the published prompt with the request and the response (empty for a request alone)', () => {
    const p = buildWildGuardPrompt('How do I pick a lock?', 'I cannot help with that.');
    expect(p.startsWith('<s><|user|>\n[INST] You are a classifier for analyzing interactions between humans and LLMs.')).toBe(true);
    expect(p).toContain('\n\nHuman user:\nHow do I pick a lock?\n\nAI assistant:\nI cannot help with that.\n\n---\n\nAnswers: [/INST]\n<|assistant|>\n');
    expect(p.endsWith('<|assistant|>\n')).toBe(true);
    expect(buildWildGuardPrompt('Hi')).toContain('Human user:\nHi\n\nAI assistant:\n\n\n---');
    // placeholders inside user text are left as written
    expect(buildWildGuardPrompt('say {response}', 'ok')).toContain('Human user:\nsay {response}\n');
  });

  it('parses well-formed answers, n/a included, and types the behaviour', () => {
    const cases: Array<[string, object, string | null]> = [
      ['Harmful request: yes\nResponse refusal: yes\nHarmful response: no', { promptHarmful: true, responseRefusal: true, responseHarmful: false }, 'T1'],
      ['Harmful request: yes\nResponse refusal: no\nHarmful response: yes', { promptHarmful: true, responseRefusal: false, responseHarmful: true }, 'T2'],
      [' Harmful request: no\nResponse refusal: no\nHarmful response: no</s>', { promptHarmful: false, responseRefusal: false, responseHarmful: false }, 'T3'],
      [
        'harmful request: No\r\nresponse refusal: YES\r\nharmful response: no\n\n',
        { promptHarmful: false, responseRefusal: true, responseHarmful: false },
        'T4',
      ],
      ['Harmful request: yes\nResponse refusal: n/a\nHarmful response: n/a', { promptHarmful: true, responseRefusal: null, responseHarmful: null }, null],
    ];
    for (const [text, answer, type] of cases) {
      const p = parseWildGuardOutput(text);
      expect(p, text).toEqual({ ok: true, answer });
      if (p.ok) expect(wildGuardBehaviour(p.answer)).toBe(type);
    }
  });

  it('rejects malformed answers with an error naming what was wrong', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /empty answer/],
      ['   \n</s>', /empty answer/],
      ['Harmful request: yes\nResponse refusal: no', /line 3 "Harmful response: …" is missing/],
      ['Harmful request: maybe\nResponse refusal: no\nHarmful response: no', /line 1 "Harmful request": expected yes or no, got "maybe"/],
      ['Harmful request: n/a\nResponse refusal: no\nHarmful response: no', /line 1 "Harmful request": expected yes or no, got "n\/a"/],
      ['Harmful request: yes\nRefusal: no\nHarmful response: no', /line 2 should start with "Response refusal:", got "Refusal: no"/],
      ['Response refusal: no\nHarmful request: yes\nHarmful response: no', /line 1 should start with "Harmful request:"/],
      [
        'Harmful request: yes\nResponse refusal: no\nHarmful response: no\nExplanation: because',
        /unexpected text after the three answer lines: "Explanation: because"/,
      ],
      ['Harmful request: yes, Response refusal: no, Harmful response: no', /expected yes or no, got "yes, Response refusal/],
      ['w300 w301 w302', /line 1 should start with "Harmful request:", got "w300 w301 w302"/],
    ];
    for (const [text, err] of bad) {
      const p = parseWildGuardOutput(text);
      expect(p.ok, text).toBe(false);
      if (!p.ok) expect(p.error).toMatch(err);
    }
  });
});
