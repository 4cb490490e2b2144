"""One process of the two-process sweep in ``test_sweep.py``: ``python multiprocess_sweep_worker.py ID PORT OUT``.

Each process has two simulated CPU devices; ``jax.distributed.initialize`` joins them into one four-device
runtime with gloo collectives, and one ``mm.sweep`` runs across all four. Process 0 writes the result to OUT.
"""

import os
import sys

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"

import jax  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")
process_id, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=process_id,
                           initialization_timeout=120)

import numpy as np  # noqa: E402

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)]
from multiprocess_sweep_case import run_case  # noqa: E402

assert jax.process_count() == 2 and len(jax.devices()) == 4 and len(jax.local_devices()) == 2
sw = run_case(jax.devices())
if process_id == 0:
    np.savez(out, x=sw.result.x, dist=sw.result.trace["dist"], diverged=sw.diverged_step,
             devices=len(jax.devices()), processes=jax.process_count())
jax.distributed.shutdown()
