"""genlab.distributed: a world of one outside a launcher; the collectives over two gloo processes."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from genlab import distributed
from genlab.distributed import World, share
from genlab.errors import GenlabError


def test_share_splits_n_items_into_contiguous_parts_that_cover_them_in_rank_order() -> None:
    for n in range(0, 23):
        for size in (1, 2, 3, 4, 7):
            parts = [share(n, World(r, size)) for r in range(size)]
            assert list(range(n)) == [i for p in parts for i in range(n)[p]]
            assert max(p.stop - p.start for p in parts) - min(p.stop - p.start for p in parts) <= 1


def test_outside_a_launcher_everything_is_a_world_of_one(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    world, device = distributed.setup(torch.device("cpu"))
    assert world == World() and world.main and not world.distributed and device == torch.device("cpu")
    t = torch.arange(3.0)
    assert distributed.all_reduce_sum(t.clone()).tolist() == [0.0, 1.0, 2.0]
    assert distributed.gather(t).tolist() == [0.0, 1.0, 2.0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collectives(rank: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    world, _ = distributed.setup(torch.device("cpu"), timeout_s=60)
    summed = distributed.all_reduce_sum(torch.tensor([1.0, 2.0]) * (rank + 1))
    gathered = distributed.gather(torch.full((rank + 1, 2), float(rank)))  # 1 row from rank 0, 2 from rank 1
    shared = distributed.broadcast_(torch.tensor([float(rank + 10)]))
    results[rank] = (world, summed.tolist(), gathered.tolist(), shared.tolist())
    distributed.teardown()


def test_two_gloo_processes_sum_gather_uneven_parts_and_broadcast_rank_0() -> None:
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_collectives, args=(_free_port(), results), nprocs=2, join=True)
        results = dict(results)
    for rank in (0, 1):
        world, summed, gathered, shared = results[rank]
        assert world == World(rank, 2, rank)
        assert summed == [3.0, 6.0]
        assert gathered == [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
        assert shared == [10.0]


def test_a_failed_collective_is_one_line_naming_the_rank(monkeypatch) -> None:
    monkeypatch.setattr(distributed, "current", lambda: World(1, 2))
    with pytest.raises(GenlabError, match=r"^rank 1 of 2: summing gradients failed, another rank stopped \(Connection reset\)$"):
        with distributed.collective("summing gradients"):
            raise RuntimeError("Connection reset\nat frame ...")
    assert not dist.is_initialized()
