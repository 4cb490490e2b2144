"""One process of the two-process sweep in ``test_sweep.py``: ``python multiprocess_sweep_worker.py ID PORT OUT``.

Each process has two simulated CPU devices; ``jax.distributed.initialize`` joins them into one four-device
runtime with gloo collectives, and one ``mm.sweep`` runs across all four. Process 0 writes the result to OUT.
(Importing this file does nothing: pytest's doctest collection imports it.)
"""

import os
import sys


def main(process_id: int, port: str, out: str) -> None:
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=process_id,
                               initialization_timeout=120)
    import numpy as np

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [here, os.path.join(here, os.pardir)]
    from multiprocess_sweep_case import run_case

    assert jax.process_count() == 2 and len(jax.devices()) == 4 and len(jax.local_devices()) == 2
    sw = run_case(jax.devices())
    if process_id == 0:
        np.savez(out, x=sw.result.x, dist=sw.result.trace["dist"], diverged=sw.diverged_step,
                 devices=len(jax.devices()), processes=jax.process_count())
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
