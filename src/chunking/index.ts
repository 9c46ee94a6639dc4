export { CHUNKERS, chunkText, isChunker, parseChunkerConfig, type ChunkerConfig, type ChunkerName, type EmbedTexts } from './chunkers.js';
export { translatePythonRegex } from './python-regex.js';
export { type Chunk, type Span } from './text.js';
export { maxChunksFor } from './limits.js';
export { ChunkingService, type ChunkingAnswer, type ChunkedItem, type ChunkingServiceDeps, type SubmitResult } from './service.js';
