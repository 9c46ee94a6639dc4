/**
 * The most chunks one request may produce, by the vector size answered (after dimReductionSize)
 * and whether the vectors are quantized, from Lucidworks' table (Async Chunking API, "limits").
 * A size between rows takes the next larger documented row (stricter); sizes past the largest
 * row we could read (384) get the same vector budget: floor(values / size), 1,728,000 values
 * quantized (4500 x 384) and 384,000 not (1500 x 256).
 */
const ROWS: Array<[size: number, quantized: number, float: number]> = [
  [32, 40_000, 11_000],
  [64, 22_500, 5_800],
  [128, 12_000, 3_000],
  [256, 6_500, 1_500],
];
const BUDGET = { quantized: 4_500 * 384, float: 1_500 * 256 };

export function maxChunksFor(vectorSize: number, quantized: boolean): number {
  const row = ROWS.find(([size]) => vectorSize <= size);
  if (row) return quantized ? row[1] : row[2];
  return Math.floor((quantized ? BUDGET.quantized : BUDGET.float) / vectorSize);
}
