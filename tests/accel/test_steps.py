"""genlab.accel.steps: compiled steps against the same steps run eagerly, epochs replayed as CUDA graphs, and
the check that torch.compile can build kernels."""

from __future__ import annotations

import shutil

import pytest
import torch
from rbm_truth import bars_and_stripes, exact_mean_loglik

from genlab.accel import steps
from genlab.accel.steps import CompiledSteps
from genlab.errors import ConfigError
from genlab.algorithms.cd import CDState, rbm_step
from genlab.models.rbm import RBM
from genlab.training.rbm import RBMConfig, fit

needs_compiler = pytest.mark.skipif(not shutil.which("g++"), reason="torch.compile needs a C++ compiler on the CPU")


@needs_compiler
def test_compiled_training_matches_the_same_steps_run_eagerly_and_the_plain_loop_and_learns(monkeypatch):
    """CD-1 with momentum and weight decay, compiled against eager on one stream, and the plain loop
    (--no-compile), which draws the same numbers."""
    monkeypatch.setenv("GENLAB_FAST_PATH", "steps")
    x = bars_and_stripes().float().repeat(20, 1)
    config = RBMConfig(hidden=8, epochs=10, batch_size=10, lr=1.0, momentum=0.5, weight_decay=1e-4)
    start = RBM(9, 8, init_std=0.1, generator=torch.Generator().manual_seed(0))

    def train(compiled, config=config) -> tuple[RBM, list[float]]:
        monkeypatch.setattr(steps, "compiled", compiled)
        rbm = RBM.from_tensors({k: t.clone() for k, t in start.tensors().items()})
        paths = {}
        errors = fit(rbm, x, config, torch.Generator().manual_seed(1), progress=False, paths=paths)
        assert paths == {"rbm": "steps" if config.compile else "plain"}
        return rbm, errors

    really_compiled = steps.compiled
    eager, eager_errors = train(steps.with_counter_stream)  # the same steps and stream, not compiled
    plain, plain_errors = train(None, config.replace(compile=False))
    assert plain_errors == eager_errors  # the same operations on the same numbers: the same bits
    for name, t in eager.tensors().items():
        assert torch.equal(plain.tensors()[name], t), name
    compiled, compiled_errors = train(really_compiled)
    for name, t in eager.tensors().items():
        assert torch.allclose(compiled.tensors()[name], t, atol=2e-3), name
    assert compiled_errors == pytest.approx(eager_errors, rel=1e-3)

    def loglik(rbm: RBM) -> float:
        return exact_mean_loglik(rbm.W.double(), rbm.v_bias.double(), rbm.h_bias.double(), x.double()).item()

    assert loglik(compiled) > loglik(start) + 1.5


def test_compile_without_a_cpu_compiler_is_a_one_line_config_error(monkeypatch):
    import shutil

    from genlab.accel.steps import check_compile

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match=r"^--compile: torch.compile needs a C\+\+ compiler") as info:
        check_compile(torch.device("cpu"))
    assert "\n" not in str(info.value)


def test_without_a_cpu_compiler_training_takes_the_plain_loop_and_says_so(monkeypatch, tmp_path, tiny_dataset):
    """PCD has no kernel, and the compiled steps need a C++ compiler: the plain loop runs, in config.json."""
    import shutil

    from genlab.runs import Run
    from genlab.training import rbm

    monkeypatch.setenv("GENLAB_FAST_PATH", "steps")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    run = rbm.train(RBMConfig(hidden=4, persistent=True, epochs=1, dataset=str(tiny_dataset)), tmp_path / "run", "cpu",
                    progress=False)
    assert Run.open(run.path).meta["path"] == "plain"


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


@needs_cuda
@pytest.mark.parametrize("options", [{}, {"momentum": 0.5, "weight_decay": 1e-4, "persistent": True}])
def test_cuda_graph_epochs_match_the_compiled_steps_run_one_by_one(options):
    """Epochs 2 to 4 replay one captured graph: same weights and errors as launching each step."""
    x = torch.rand(1050, 784, generator=torch.Generator().manual_seed(0)).cuda()  # a short last minibatch
    config = RBMConfig(compile=True, **options)

    def train(cuda_graph: bool) -> tuple[RBM, list[float], CompiledSteps]:
        g = torch.Generator("cuda").manual_seed(1)
        rbm = RBM(784, 100, 0.1, generator=g, device="cuda")
        runner = CompiledSteps(rbm_step, rbm, x, config.batch_size, config.cd(), config.binarize, CDState(),
                               cuda_graph=cuda_graph)
        return rbm, [runner(g).item() / x.numel() for _ in range(4)], runner

    graphed, graphed_errors, runner = train(cuda_graph=True)
    assert runner.graph is not None and runner.graph.graph is not None
    plain, plain_errors, _ = train(cuda_graph=False)
    for name, t in plain.tensors().items():
        assert torch.allclose(graphed.tensors()[name], t, rtol=0, atol=2e-3), name  # as the CPU test: a rare flipped sample
    assert graphed_errors == pytest.approx(plain_errors, rel=1e-3)
    assert len(set(graphed_errors)) == 4  # each replay trained on new minibatches
