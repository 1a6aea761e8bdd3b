// Stream benchmark: the same bytes as stream-chunks, as a bare piscina worker file: `count` runs of `size` bytes, each
// filled with its index's low byte, in one Uint8Array moved back with Piscina.move.
import { Piscina } from 'piscina';

export default function one({ count, size }: { readonly count: number; readonly size: number }): unknown {
  const all = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) all.fill(i & 255, i * size, (i + 1) * size);
  return Piscina.move(all);
}
