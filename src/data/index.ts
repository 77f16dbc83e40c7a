// Data: the loader interfaces, manifests, and the embedded world's benchmarks.
export * from './dataset';
export {
  WORLD_MANIFEST_DIR,
  WRITE_WORLD_MANIFESTS_COMMAND,
  computeManifest,
  contentSha256,
  formatJson,
  loadManifest,
  writeManifest,
  type WorldManifest,
  type ManifestHeader,
  type Json,
} from './manifest';
export { WORLD_BENCHMARKS_VERSION, WORLD_TEMPLATES, SHAPE_CLASS_NAMES, type WorldDatasetOptions, type SplitCounts, type LookConfig } from './world-common';
export {
  CLASSIFICATION_CONFIGS,
  POSITION_CLASSES,
  POSITION_REGIONS,
  WorldClassificationDataset,
  type ClassificationConfig,
  type ClassificationSpec,
  type ObjectConfig,
} from './world-classification';
export { CZSL_CONFIG, czslPairSplit, WorldCzslDataset, type CzslConfig, type CzslSpec } from './world-czsl';
export { SCENES_CONFIG, WorldScenesDataset, type ScenesConfig, type SceneSpec } from './world-scenes';
export { MOTION_CONFIG, WorldMotionDataset, type MotionConfig, type MotionSpec } from './world-motion';
export {
  WORLD_BENCHMARKS,
  WORLD_CLASSIFICATION,
  getWorldDataset,
  isWorldDatasetName,
  writeWorldManifests,
  type WorldDataset,
  type WorldDatasetName,
  type WorldDatasetTypes,
  type WorldClassificationName,
} from './world-benchmarks';
export {
  NPY_DTYPES,
  NPY_MAX_BYTES,
  encodeNpy,
  npyToFloat32,
  parseNpy,
  parseNpyHeader,
  readNpy,
  readNpyHeader,
  writeNpy,
  type NpyArray,
  type NpyData,
  type NpyDtype,
  type NpyHeader,
} from './npy';
export * from './video';
export {
  FRAME_FEATURES_FORMAT,
  FrameFeatures,
  clipDataChecksum,
  encodeClipPixels,
  encodeClips,
  featureCacheFile,
  frameFeatureCacheDir,
  loadCachedFeatures,
  modelChecksum,
  saveCachedFeatures,
  type ClipSplits,
  type FrameFeatureKey,
  type FrameFeatureOptions,
} from './frame-features';
export {
  IMAGE_LIMIT,
  loadCoopSplit,
  loadFgvcAircraft,
  loadImageNetFolders,
  loadImageNetLabelFolders,
  loadImageNetWnidFolders,
  readCoopSplit,
  readImageNetClassnames,
  type ClassificationFolderDataset,
  type ClassificationFolderManifest,
  type FolderDatasetOptions,
} from './coop-datasets';
export { COOP_DATASETS, IMAGENET_TEMPLATES_SELECT, loadRealDataset, realDatasetManifest, realDatasetNames, type RealDataset } from './real';
