/**
 * Decompression-bomb guard: counts compressed input and decompressed output
 * and raises E_LIMIT when the output grows past `maxOutput`, or (once past
 * RATIO_GRACE_BYTES) past `maxRatio` times the input.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';

/** Default largest output/input ratio of a layer (gzip tops out near 1032:1). */
export const DEFAULT_MAX_RATIO = 1000;
/** The ratio is checked only after this much output (small files compress well). */
export const RATIO_GRACE_BYTES = 64 << 20;

export interface GuardOptions {
  label: string;
  maxRatio?: number;
  maxOutput?: number;
  /** Output bytes before the ratio is enforced (default RATIO_GRACE_BYTES). */
  ratioGraceBytes?: number;
}

export class RatioGuard {
  input = 0;
  output = 0;
  private readonly maxRatio: number;
  private readonly maxOutput: number;
  private readonly grace: number;

  constructor(private readonly opts: GuardOptions) {
    this.maxRatio = opts.maxRatio ?? DEFAULT_MAX_RATIO;
    this.maxOutput = opts.maxOutput ?? Number.POSITIVE_INFINITY;
    this.grace = opts.ratioGraceBytes ?? RATIO_GRACE_BYTES;
  }

  /**
   * The most output the guard lets through once all `input` compressed bytes
   * are counted (for decoders that are limited up front, not byte by byte).
   */
  outputLimit(input: number): number {
    return Math.min(this.maxOutput, Math.max(this.grace, this.maxRatio * Math.max(1, input)));
  }

  /** Records `n` compressed bytes fed to the decoder. */
  addInput(n: number): void {
    this.input += n;
  }

  /** Records `n` decompressed bytes; throws E_LIMIT when a limit is crossed. */
  addOutput(n: number): void {
    this.output += n;
    if (this.output > this.maxOutput) {
      throw new Oci2fsError(
        ErrorCode.LIMIT,
        `${this.opts.label}: decompressed size exceeds the limit of ${this.maxOutput} bytes; raise maxOutput only if you trust this image`,
      );
    }
    if (this.output > this.grace && this.output > this.maxRatio * Math.max(1, this.input)) {
      throw new Oci2fsError(
        ErrorCode.LIMIT,
        `${this.opts.label}: decompression ratio exceeds ${this.maxRatio}:1 (${this.output} bytes from ${this.input}); ` +
          'this looks like a decompression bomb; raise maxRatio only if you trust this image',
      );
    }
  }
}
