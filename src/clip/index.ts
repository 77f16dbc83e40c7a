export * from './config';
export * from './model';
export * from './weights';
export * from './safetensors';
export * from './tokenizer';
export * from './preprocess';
