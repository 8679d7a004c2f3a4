"""genlab.lab.findings.dbn: the measurements the DBN labs' answers quote, and answers that follow them."""

from __future__ import annotations

import math

import pytest
import torch
from dbn_truth import random_dbn, random_rbm

from genlab.lab.findings import dbn as f
from genlab.models.dbn import UpDownDBN


def bern(p, g):
    return (torch.rand(p.shape, generator=g, dtype=p.dtype) < p).to(p.dtype)


def sig(x):
    return 1 / (1 + torch.exp(-x))


# ----------------------------------------------------------------------------- reconstruction errors


@pytest.mark.parametrize("k", [0, 1, 3])
def test_a_dbns_reconstruction_error_replays_up_pass_k_gibbs_steps_and_down_pass_by_hand(k):
    dbn = random_dbn()
    t = {name: tensor.clone() for name, tensor in dbn.tensors().items()}
    x = torch.rand(5, 12, dtype=torch.float64)
    errors = f.recon_errors(dbn, x, k, torch.Generator().manual_seed(7))

    g = torch.Generator().manual_seed(7)  # the same draws, in SPEC 2's order, from the raw tensors
    h1 = bern(sig(x @ t["W1"] + t["h1_bias"]), g)
    h2 = bern(sig(h1 @ t["W2"] + t["h2_bias"]), g)
    for _ in range(k):
        h1 = bern(sig(h2 @ t["W2"].T + t["top_v_bias"]), g)
        h2 = bern(sig(h1 @ t["W2"] + t["h2_bias"]), g)
    h1 = bern(sig(h2 @ t["W2"].T + t["top_v_bias"]), g)
    p = sig(h1 @ t["W1"].T + t["v_bias"])
    assert torch.allclose(errors, ((x - p) ** 2).mean(1))


def test_with_no_gibbs_step_a_reconstruction_is_the_plain_up_down_pass_and_an_rbm_takes_one_pass():
    net = UpDownDBN.from_dbn(random_dbn())
    net.R1.data.add_(0.3)  # untied: the up pass uses R1, the down pass W1'
    x = torch.rand(6, 12, dtype=torch.float64)
    _, h2 = net.up(x, g := torch.Generator().manual_seed(2))
    _, p = net.down(h2, g)
    assert torch.allclose(f.recon_errors(net, x, 0, torch.Generator().manual_seed(2)), ((x - p) ** 2).mean(1))

    rbm = random_rbm(12, 5, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(3)
    p = sig(bern(sig(x @ rbm.W + rbm.h_bias), g) @ rbm.W.T + rbm.v_bias)
    assert torch.allclose(f.recon_errors(rbm, x, 4, torch.Generator().manual_seed(3)), ((x - p) ** 2).mean(1))


def test_an_estimate_is_the_mean_with_its_standard_error_and_is_resolved_beyond_two_of_them():
    e = f.Estimate.of(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert e.mean == 2.5 and e.n == 4 and math.isclose(e.se, math.sqrt(5 / 3) / 2)
    assert e.resolved and not f.Estimate.of(torch.tensor([-1.0, 1.0, -1.0, 1.2])).resolved


# ----------------------------------------------------------------------------- weights and chains


def test_spread_is_one_for_even_weights_and_one_over_n_for_a_single_one():
    W = torch.tensor([[1.0, 0.0, 2.0], [-1.0, 3.0, 0.0], [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    assert torch.allclose(f.spread(W), torch.tensor([1.0, 0.25, 0.25], dtype=torch.float64))


def test_duplicates_count_the_units_pointing_like_an_earlier_one_not_the_opposite_way():
    a, b = torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.0, 1.0, 5.0])
    assert f.duplicates(torch.stack([a, 2 * a, b, -a], 1)) == 1
    assert f.duplicates(torch.stack([a, b], 1)) == 0


def test_stuck_units_are_those_almost_always_off_or_on():
    assert f.stuck(torch.tensor([0.001, 0.5, 0.995, 0.02, 0.999])) == (1, 2)


def test_row_correlation_is_one_for_a_copy_minus_one_for_a_negative_and_zero_for_a_constant_row():
    a = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    b = torch.tensor([[0.1, 0.9, 0.9, 0.1], [4.0, 3.0, 2.0, 1.0], [0.2, 0.5, 0.1, 0.3]])
    assert torch.allclose(f.row_correlation(a, b), torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64))
    assert f.chain_ends(a, b) == (pytest.approx(0.0), 1)


def test_shares_of_a_total():
    values = torch.tensor([4.0, 3.0, 2.0, 1.0])
    assert f.top_share(values, 0.25) == pytest.approx(0.4) and f.top_share(values, 0.5) == pytest.approx(0.7)
    assert f.share_on(values, torch.tensor([False, True, False, True])) == pytest.approx(0.4)


# ----------------------------------------------------------------------------- answers


def evals(fcd: float, loglik: float, low: float | None = None, high: float | None = None, method="bound",
          coverage: float = 3.2) -> dict:
    return {"test_loglik": loglik, "test_loglik_low": low, "test_loglik_high": high, "test_loglik_method": method,
            "frechet_classifier_distance": fcd, "frechet_classifier_distance_floor": 4.7, "classifier_score": 8.0,
            "classifier_score_real": 9.6, "coverage": coverage, "coverage_max": math.log2(10), "metric_samples": 1000,
            "metric_test_images": 10000, "n_params": 1000, "test_loglik_method_": method}


def text(answer: list[str]) -> str:
    assert answer and all(isinstance(p, str) and p for p in answer)
    return " ".join(answer)


def test_intervals_with_a_missing_end_are_open_on_that_side():
    a, b = evals(1, -100.0, None, -99.0), evals(1, -90.0, -91.0, -89.0)
    assert f.apart(a, b) and not f.apart(a, evals(1, -99.5, -99.8, -99.2))
    assert not f.apart(a, evals(1, -90.0, None, None))  # no interval at all overlaps everything
    assert "do not overlap" in f.loglik_gap("DBN", b, "RBM", a) and "the DBN's bound lies 10.00 nats above" in f.loglik_gap("DBN", b, "RBM", a)


def test_the_reconstruction_answer_ranks_by_the_paired_errors_in_both_directions():
    g = torch.Generator().manual_seed(0)
    rbm = 0.05 + 0.01 * torch.rand(400, generator=g)
    plain = rbm + 0.004 + 0.001 * torch.rand(400, generator=g)
    worse = text(f.dbn_reconstruction_answer(rbm, plain + 0.002, plain, 2))
    assert "The RBM's error is lower than the DBN's by 0.006" in worse and "loses detail" in worse
    assert "The 2 Gibbs steps alone changed the DBN's error by +0.0020" in worse and "drift" in worse
    better = text(f.dbn_reconstruction_answer(rbm, rbm - 0.003, rbm - 0.003, 2))
    assert "The DBN's error is lower than the RBM's by 0.0030" in better and "against the expectation" in better
    assert "within two standard errors" in better  # the steps changed nothing
    noise = 0.001 * (torch.rand(400, generator=g) - 0.5)
    tied = text(f.dbn_reconstruction_answer(rbm, rbm + noise, rbm, 2))
    assert "not resolved" in tied and "did not cost measurable accuracy" in tied


def test_the_fine_tuning_reconstruction_answer_says_whether_fine_tuning_helped():
    rbm = torch.full((100,), 0.05) + 0.001 * torch.arange(100) / 100
    errors = {"RBM": rbm, "DBN": rbm + 0.01, "DBN plain": rbm + 0.009, "fine-tuned plain": rbm + 0.004}
    helped = text(f.finetune_reconstruction_answer({**errors, "fine-tuned": rbm + 0.005}, 2))
    assert "The fine-tuned DBN's error is lower than the DBN's by 0.0050" in helped and "helped" in helped
    assert "if only" not in helped
    barely = text(f.finetune_reconstruction_answer({**errors, "fine-tuned": rbm + 0.0097}, 2))
    assert "helped reconstruction, if only by 0.5% of the DBN's error" in barely
    hurt = text(f.finetune_reconstruction_answer({**errors, "fine-tuned": rbm + 0.02}, 2))
    assert "The DBN's error is lower than the fine-tuned DBN's by 0.0100" in hurt and "worse" in hurt


def test_the_samples_answer_follows_the_fcd_either_way_and_calls_close_ones_unranked():
    rbm = evals(40.0, -100.0, -100.5, -99.5, method="ais")
    better = text(f.dbn_samples_answer({"RBM": rbm, "DBN": evals(20.0, -98.0, -98.3, -97.7)}))
    assert "The DBN's samples are closer to the test images than the RBM's (FCD 20.0 against 40.0)" in better
    assert "expected gain" in better and "do not overlap" in better
    worse = text(f.dbn_samples_answer({"RBM": rbm, "DBN": evals(60.0, -101.0, -101.5, -99.8)}))
    assert "further from" in worse and "did not help" in worse and "not resolved" in worse
    close = text(f.dbn_samples_answer({"RBM": rbm, "DBN": evals(42.0, -98.0, -98.3, -97.7, coverage=1.0)}))
    assert "within 10%" in close and "no measurable gain" in close and "The DBN covers few digit classes" in close


def test_the_fine_tuned_samples_answer_compares_with_both_earlier_tasks():
    e = {"RBM": evals(40.0, -100.0, -100.5, -99.5, method="ais"), "DBN": evals(30.0, -98.0, -98.3, -97.7)}
    helped = text(f.finetune_samples_answer({**e, "fine-tuned DBN": evals(20.0, -96.0, -96.3, -95.7)}))
    assert "improved the samples" in helped and "than the DBN's (FCD 20.0 against 30.0)" in helped
    assert "than the RBM's (FCD 20.0 against 40.0)" in helped
    hurt = text(f.finetune_samples_answer({**e, "fine-tuned DBN": evals(45.0, -98.1, -98.4, -97.8)}))
    assert "made the samples worse" in hurt and "not resolved" in hurt


def test_the_wide_top_answer_follows_the_bound_and_the_top_states():
    e = {"RBM": evals(40.0, -100.0, -100.4, -99.6, method="ais"), "DBN": evals(30.0, -97.0, -97.2, -96.8),
         "784 init": evals(40.0, -100.0, -100.4, -99.6)}
    chains = {"trained": (0.8, 0), "init": (0.9, 0)}
    raised = text(f.wide_top_answer({**e, "784": evals(35.0, -98.0, -98.2, -97.8)}, 0.02, 0.1, chains, 2, 5))
    assert "differ by +0.00 nats, within their intervals" in raised and "changed the bound by +2.00 nats" in raised
    assert "raised it" in raised and "20% of mean |W1|" in raised and "second copy of the pixels" in raised
    lowered = text(f.wide_top_answer({**e, "784": evals(35.0, -103.0, -103.2, -102.8)}, 0.02, 0.1,
                                     {"trained": (0.1, 3), "init": (0.9, 0)}, 2, 5))
    assert "lowered it" in lowered and "CD-2" in lowered and "features of its own" in lowered and "3 all-off" in lowered
    same = text(f.wide_top_answer({**e, "784": evals(35.0, -100.1, -100.5, -99.7)}, 0.02, 0.1, chains, 2, 5))
    assert "did not change it resolvably" in same


def test_the_top_weights_answer_tells_concentrated_weights_from_random_ones_and_counts_idle_units():
    random = torch.randn(100, 50, generator=torch.Generator().manual_seed(0)) * 0.1
    usage = torch.full((50,), 0.3)
    usage[:2], usage[2] = 0.001, 0.999
    answer = text(f.top_weights_answer(random, 0.1, usage))
    assert "about as spread as random Gaussian weights" in answer and "left them near that size" in answer
    assert "2 of 50 top units are almost always off and 1 almost always on" in answer and "0 units have" in answer
    focused = torch.zeros(100, 50)
    focused[torch.arange(50), torch.arange(50)] = 20.0  # each top unit on one h1 unit
    answer = text(f.top_weights_answer(torch.cat([focused, focused[:, :1]], 1), 0.1, torch.full((51,), 0.3)))
    assert "more concentrated than random" in answer and "grew them" in answer and "1 unit has" in answer
    assert "every top unit responds to the input" in answer


def test_the_weights_apart_answer_finds_where_r1_and_w1_differ():
    W1 = torch.full((10, 4), 0.5)
    pixel_mean = torch.tensor([0.0] * 5 + [0.3] * 5)  # pixels 0-4 are (almost) never on
    R1 = W1.clone()
    R1[:5, 0] += 0.4  # the sleep phase moved R1 on the empty pixels, of one unit
    answer = text(f.weights_apart_answer(R1, W1.clone(), W1, pixel_mean, 3, 0.01))
    assert "100% of it lies on the 50% of pixels" in answer and "more than their share" in answer
    assert "R1 (the sleep phase) changed more" in answer and "come apart" in answer
    W1_down = W1.clone()
    W1_down[5:, :] += 0.001  # the wake phase moved W1' a little, where digits have ink
    answer = text(f.weights_apart_answer(W1.clone(), W1_down, W1, pixel_mean, 3, 0.01))
    assert "no more than their share" in answer and "nearly tied" in answer and "W1' (the wake phase)" in answer


def test_without_sample_quality_the_samples_answers_say_so_and_rank_by_log_likelihood_only():
    e = {name: {"test_loglik": ll, "test_loglik_low": ll - 1, "test_loglik_high": ll + 1, "test_loglik_method": "bound"}
         for name, ll in (("RBM", -100.0), ("DBN", -95.0), ("fine-tuned DBN", -99.5))}
    for answer in (f.dbn_samples_answer(e), f.finetune_samples_answer(e)):
        assert "measured no sample quality" in text(answer) and "FCD" not in text(answer)
    assert "the fine-tuned DBN's bound lies 0.50 nats above the RBM's bound; their intervals overlap" in text(f.finetune_samples_answer(e))


def test_an_interval_open_below_is_named_as_the_reason_two_intervals_overlap():
    trained, init = evals(1, -204.89, None, -204.89), evals(1, -188.5, None, -188.5)
    gap = f.loglik_gap("trained DBN", trained, "initial DBN", init)
    assert "the initial DBN's bound lies 16.39 nats above the trained DBN's bound; their intervals overlap (" in gap
    assert "the trained DBN's is only known to be at most -204.89" in gap and "not resolved" in gap
    assert "the initial DBN's is only known to be at most -188.50" in gap
    closed = evals(1, -188.5, -189.0, -186.7)
    assert f.overlap_reason("a", closed, "b", closed) == ""
    assert "do not overlap" in f.loglik_gap("trained DBN", trained, "initial DBN", closed)  # at most -204.89 < -189


def test_the_dbn_samples_answer_uses_the_sample_quality_of_the_rbm_and_the_dbn_whatever_else_is_given():
    e = {"RBM": evals(40.0, -100.0, -100.5, -99.5, method="ais"), "DBN": evals(20.0, -98.0, -98.3, -97.7),
         "784 init": {"test_loglik": -100.0, "test_loglik_method": "bound"}}  # measured without samples
    assert "closer to the test images" in text(f.dbn_samples_answer(e))
