"""Child process for the crash test: append forever, print each sequence once it is durable.

Usage: crash_child.py DIR SEED. Killed with SIGKILL by tests/store/test_durability.py.
"""
import asyncio
import random
import sys

from natsx.store import FileStore, StoreConfig


def subject(seq: int) -> bytes:
    return b"crash.%d" % (seq % 5)


def payload(seq: int) -> bytes:
    return (b"%d|" % seq) * (1 + seq % 13)


def config(seed: int) -> StoreConfig:
    return StoreConfig(sync="always", block_size=16384,
                       compression="zstd" if seed % 2 else "none")


async def main() -> None:
    d, seed = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(seed)
    out = sys.stdout.buffer
    s = FileStore(d, config(seed))
    out.write(b"open %d\n" % s.last_seq)
    out.flush()

    def report(f: asyncio.Future) -> None:
        out.write(b"%d\n" % f.result())
        out.flush()

    inflight = []
    while True:
        n = rnd.randint(1, 40)
        base = s.last_seq
        s.append_batch([(subject(base + 1 + i), payload(base + 1 + i)) for i in range(n)])
        fut = s.durable(base + n)
        fut.add_done_callback(report)
        inflight.append(fut)
        if len(inflight) > 8:
            await inflight.pop(0)
        else:
            await asyncio.sleep(0)  # yield to the loop: lets several batches share a commit


if __name__ == "__main__":
    asyncio.run(main())
