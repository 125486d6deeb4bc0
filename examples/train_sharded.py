"""Data-parallel training of a Flax NNX MLP on a device mesh, jopt's state in three layouts.

    python examples/train_sharded.py --layout zero1        # 8 virtual CPU devices
    python examples/train_sharded.py --layout sharded --devices 4

Layouts (the batch is split over the mesh axis "data" in all three):

- ``replicated``: params and optimizer state whole on every device;
- ``sharded``: each parameter split over "data" on its largest dimension that the
  device count divides (FSDP-style), the state following its parameter;
- ``zero1``: params replicated, the state split over "data" (ZeRO-1,
  ``jopt.sharding.state_shardings(tx, params, zero_axis="data")``).

On CPU the script asks XLA for ``--devices`` virtual devices (8 by default); on a GPU or
TPU host it uses the first ``--devices`` accelerators (all by default), unchanged. For
several processes or hosts, run it once per process with the same coordinator:

    python examples/train_sharded.py --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0
    python examples/train_sharded.py --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 1

Each process then holds ``--devices`` devices (on CPU, default 8 / number of processes),
and the mesh spans all of them; CPU processes talk through gloo.
"""

from __future__ import annotations

import argparse
import os
import sys

LAYOUTS = ("replicated", "sharded", "zero1")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=LAYOUTS, default="zero1")
    parser.add_argument("--devices", type=int, default=None, help="devices in this process")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--coordinator", default=None, help="host:port of process 0")
    parser.add_argument("--num-processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--save", default=None, help="write the final params here (.npz)")
    return parser.parse_args(argv)


if __name__ == "__main__":  # before jax is imported: how many virtual CPU devices
    _args = parse(sys.argv[1:])
    if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        _n = _args.devices or 8 // _args.num_processes
        _flags = os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={_n}"
        os.environ["XLA_FLAGS"] = _flags.strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import jopt  # noqa: E402


class MLP(nnx.Module):
    def __init__(self, hidden: int, rngs: nnx.Rngs):
        self.l1 = nnx.Linear(64, hidden, rngs=rngs)
        self.l2 = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


def fsdp(mesh: jax.sharding.Mesh, x: jax.Array) -> NamedSharding:
    """x split over "data" on its largest dimension the axis size divides."""
    n = mesh.shape["data"]
    dims = [d for d in np.argsort(x.shape)[::-1] if x.shape[d] % n == 0]
    spec = [None] * x.ndim
    if dims:
        spec[dims[0]] = "data"
    return NamedSharding(mesh, P(*spec))


def place(x: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array every process holds (one or many processes)."""
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def state_bytes(state) -> dict[int, int]:
    """Optimizer-state bytes on each of this process's devices."""
    buffers = {}
    for leaf in jax.tree.leaves(state):
        for shard in leaf.addressable_shards:
            buffers[shard.device.id, shard.data.unsafe_buffer_pointer()] = shard.data.nbytes
    used = dict.fromkeys(sorted(d.id for d in jax.local_devices()), 0)
    for (device, _), n in buffers.items():
        used[device] = used.get(device, 0) + n
    return used


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    if args.coordinator:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    devices = jax.devices()
    if args.devices and args.num_processes == 1:
        devices = devices[: args.devices]  # jax was imported already: use the first N
    mesh = jax.make_mesh(
        (len(devices),), ("data",), devices=devices, axis_types=(jax.sharding.AxisType.Auto,)
    )

    x, y = load_digits(return_X_y=True)
    x, y = (x / 16.0).astype(np.float32), y.astype(np.int32)
    order = np.random.default_rng(args.seed).permutation(len(x))

    graphdef, host_params = nnx.split(MLP(args.hidden, nnx.Rngs(args.seed)))
    host_params = jax.tree.map(np.asarray, host_params)
    tx = jopt.adam(args.lr)
    replicated = NamedSharding(mesh, P())
    if args.layout == "sharded":
        param_shardings = jax.tree.map(lambda p: fsdp(mesh, p), host_params)
    else:
        param_shardings = jax.tree.map(lambda p: replicated, host_params)
    params = jax.tree.map(place, host_params, param_shardings)
    # Each moment as its parameter (replicated or split), or split over "data" (ZeRO-1).
    zero_axis = "data" if args.layout == "zero1" else None
    state_shardings = jopt.sharding.state_shardings(tx, params, zero_axis=zero_axis)
    state = jax.jit(tx.init, out_shardings=state_shardings)(params)

    def loss_fn(params, xb, yb):
        logits = nnx.merge(graphdef, params)(xb)
        picked = jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], axis=1)
        return -jnp.mean(picked)

    batch = (NamedSharding(mesh, P("data")), NamedSharding(mesh, P("data")))

    def train_step(params, state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    step = jax.jit(
        train_step,
        in_shardings=(param_shardings, state_shardings, *batch),
        out_shardings=(param_shardings, state_shardings, replicated),
        donate_argnums=(0, 1),
    )

    losses = []
    for i in range(args.steps):
        idx = np.take(order, range(i * args.batch_size, (i + 1) * args.batch_size), mode="wrap")
        xb, yb = place(x[idx], batch[0]), place(y[idx], batch[1])
        params, state, loss = step(params, state, xb, yb)
        losses.append(float(loss.addressable_data(0)))

    per_device = state_bytes(state)
    total = sum(int(np.prod(leaf.shape)) * leaf.dtype.itemsize for leaf in jax.tree.leaves(state))
    print(
        f"process {jax.process_index()}/{jax.process_count()}, {len(devices)} devices, "
        f"layout {args.layout}: loss {losses[0]:.4f} -> {losses[-1]:.4f} in {args.steps} steps"
    )
    print(f"optimizer state: {total} bytes in all; on this process's devices:")
    for device, n in per_device.items():
        print(f"  device {device}: {n} bytes")

    final = {
        jax.tree_util.keystr(path): np.asarray(leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(
            multihost_utils.process_allgather(params, tiled=True)
        )
    }
    if args.save:
        np.savez(args.save, **final)
    return {"losses": losses, "params": final, "state_bytes": per_device, "total": total}


if __name__ == "__main__":
    main()
