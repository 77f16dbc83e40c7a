// Video prompting (Ju et al., ECCV 2022): the method, its prompt layouts, its temporal transformer and presets.
export { VideoPrompt, VIDEO_PROMPT_DEFAULTS, VIDEO_ADAMW, videoOptimizer, videoLr, videoTrainStep, videoPromptInitialWeights, type VideoPromptConfig, type TokenIds } from './video-prompt';
export { layoutPrompt, splicePrompts, PROMPT_LAYOUTS, type ClassPrompt, type PromptLayout } from './prompts';
export { TemporalModelling, temporalInitialWeights } from './temporal';
export { getVideoPreset, VIDEO_PRESET_NAMES, type VideoPreset, type VideoOptimPreset } from './presets';
