// Video benchmarks' data: split lists (HMDB51, UCF101, Efficient-Prompt's class/video lists), frame
// features stored as .npy, and frame folders.
export { defaultClassName, readClassVideoLists, readHmdb51Splits, readUcf101Splits, videoClassNames, type VideoListEntry, type VideoSplitLists } from './lists';
export {
  FRAME_MAX_BYTES,
  OFFICIAL_FRAME_RATES,
  VIDEO_TEMPLATE,
  VIDEO_TEMPLATES,
  asVideoDataset,
  gatherFrames,
  listFrames,
  loadVideoFeatures,
  loadVideoFrames,
  naturalCompare,
  officialFrameIndices,
  uniformFrameIndices,
  type FrameFeatureArray,
  type VideoFeatureDataset,
  type VideoFolderManifest,
  type VideoFolderOptions,
  type VideoFrameFolderDataset,
} from './datasets';
