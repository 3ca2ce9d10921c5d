/**
 * SafeTune evaluation core (pure services; no DB, no Electron).
 *
 * ```ts
 * import { loadBuiltinSuite, createJudge, runEvaluation, computeMetrics, EngineGenerator } from './eval';
 *
 * const suites = [await loadBuiltinSuite('xstest', dataDir), await loadBuiltinSuite('advbench', dataDir)];
 * const generator = new EngineGenerator(await openModel(modelDir, { lora: adapterDir }));
 *   // or new OpenAICompatibleBackend({ baseUrl: 'http://127.0.0.1:8000', model: 'llama' })
 * const judges = [createJudge('keyword')];
 * await runEvaluation({ generator, suites, judges, settings: { generation: { maxNewTokens: 256, temperature: 0 } },
 *   isDone: doneSet(storedPairs), onBatch: (records) => store(records), shouldStop: () => cancelled });
 * const metrics = computeMetrics(allStoredRecords, { corrections });
 * ```
 */
export * from './types';
export {
  SuiteFormatError,
  builtinSuites,
  detectSuiteFormat,
  loadSuite,
  type SuiteFormat,
  type SuiteSpec,
  getSuitesConfig,
  loadAdvBench,
  loadBeaverTails,
  loadBuiltinSuite,
  loadCustomSuite,
  loadUserSuiteFile,
  importedPromptsSuite,
  loadGsm8k,
  loadHarmBenchCsv,
  loadSst2,
  loadStlJson,
  loadXSTest,
  renderTemplate,
  resolveCategories,
  subsetSuite,
  suitesVersion,
  type CustomSuiteOptions,
  type LoadOptions,
  type TaskLoadOptions,
} from './suites';
export { recordsToCsv, recordsToJsonl } from './export';
export { inferSuiteCategories, loadCategoryReferences, noteMissingCategories, uncategorisedHarmful, type InferSuiteCategoriesOptions } from './categorise';
export { extractFinalNumber, extractSentiment, parseNumber, scoreGsm8k, scoreSst2, scoreTask, type TaskScore } from './scoring';
export {
  ClassifierRefusalJudge,
  JUDGE_IMPLS,
  KeywordRefusalJudge,
  SHIPPED_JUDGES,
  TaskJudge,
  createJudge,
  judgeIdsText,
  type JudgeDeps,
  type JudgeFactory,
  type JudgeRegistry,
  type KeywordJudgeOptions,
} from './judges';
export {
  LLAMA_GUARD_3_CATEGORIES,
  LLAMA_GUARD_3_VERSION,
  LlamaGuardJudge,
  buildLlamaGuard3Prompt,
  llamaGuard3Content,
  llamaGuard3Messages,
  parseLlamaGuardOutput,
  type GuardCategory,
  type LlamaGuardJudgeOptions,
  type ParsedGuardOutput,
} from './llamaGuard';
export {
  Z95,
  binaryAgreement,
  checkCorrection,
  computeMetrics,
  correctionLabels,
  harmCategoryCounts,
  effectiveVerdict,
  indexCorrections,
  rate,
  suiteMetrics,
  wilson,
  type BinaryAgreement,
  type CategoryMetrics,
  type EffectiveVerdict,
  type MetricsOptions,
  type PromptTypeMetrics,
  type Rate,
  type SuiteMetrics,
} from './metrics';
export { estimate, type Estimate } from './seeds';
export { BackendUnavailableError, HttpRequestError, OpenAICompatibleBackend, type HttpBackendOptions } from './httpBackend';
export { startOpenAIServer, type OpenAIServerHandle, type OpenAIServerOptions } from './openaiServer';
export { EngineGenerator, type EngineGeneratorOptions } from './engineGenerator';
export {
  cutText,
  describeRun,
  doneSet,
  runEvaluation,
  truncateToFit,
  type RunDescription,
  type RunInput,
  type RunProgress,
  type RunResult,
  type RunSettings,
  type TruncateMode,
} from './runner';
