// Data benchmark: the same body as data-ends, as a bare piscina worker file: the buffer moved back with
// Piscina.move (which moves a top-level value only).
import { Piscina } from 'piscina';

export default function ends(buf: Uint8Array): unknown {
  if ((buf[0] ?? 0) + (buf[buf.length - 1] ?? 0) !== 3) throw new Error('ends not 1 and 2');
  return Piscina.move(buf);
}
