"""genlab.lab.budget: presets planned from measured costs, and the quick preset planned from them."""

import pytest

from genlab.lab import budget, presets
from genlab.lab.budget import Cost, Item, Share
from genlab.lab.overrides import customized, parse
from genlab.training.rbm import RBMConfig


def test_every_run_gets_the_labs_epochs_when_the_budget_allows():
    items = [Item("a", 100, Cost(1.0, eval_s=5.0), keep=True), Item("b", 20, Cost(2.0))]
    given = budget.shares(items, budget_s=145.0)  # 5 + 100 + 40
    assert {label: share.epochs for label, share in given.items()} == {"a": 100, "b": 20}
    assert budget.predicted_s(items, given) == pytest.approx(145.0)


def test_the_kept_runs_are_served_first_and_the_rest_gets_what_is_left():
    items = [Item("keep", 100, Cost(1.0), keep=True), Item("rest", 100, Cost(1.0), minimum=2)]
    given = budget.shares(items, budget_s=130.0, overhead_s=10.0)
    assert given["keep"].epochs == 100
    assert given["rest"].epochs == pytest.approx(20, abs=1e-6)  # 130 - 10 - 100
    tight = budget.shares(items, budget_s=62.0, overhead_s=10.0)  # 52 s of training: the rest keeps its minimum
    assert tight["rest"].epochs == 2 and tight["keep"].epochs == pytest.approx(50, abs=1e-6)


def test_a_plan_never_exceeds_its_budget_beyond_the_minimums():
    items = [Item(f"r{i}", 100, Cost(0.3 * (i + 1), start_s=20.0 * i, plain_epoch_s=2.0, eval_s=7.0), keep=i % 2 == 0)
             for i in range(6)]
    for budget_s in (200.0, 500.0, 1000.0, 3000.0):
        given = budget.shares(items, budget_s)
        assert budget.predicted_s(items, given) <= budget_s + 1e-6


def test_a_short_run_takes_the_plain_loop_where_compiling_its_step_would_cost_more():
    cost = Cost(1.0, start_s=50.0, plain_epoch_s=3.0)  # the fast path pays off beyond 25 epochs
    assert cost.plain_is_cheaper(10) and not cost.plain_is_cheaper(30)
    assert cost.train_s(10) == 30.0 and cost.train_s(30) == 80.0
    given = budget.shares([Item("k", 100, cost)], budget_s=30.0)
    assert given["k"] == Share(pytest.approx(10, abs=1e-6), plain=True)
    assert given["k"].changes(100, 100) == {"compile": False, "epochs": 10}


def test_a_share_below_one_epoch_trains_one_epoch_on_the_images_it_buys():
    assert Share(0.1, plain=False).changes(20, 16) == {"epochs": 1, "limit": 6000}
    assert Share(0.0001, plain=False).changes(20, 16) == {"epochs": 1, "limit": 16}  # at least one minibatch
    assert Share(250.0, plain=False).changes(100, 100) == {"epochs": 100}  # never beyond the lab's epochs


def test_the_quick_preset_is_its_plan_within_its_budget():
    predicted = budget.predicted_s(presets.QUICK.items, presets.QUICK.shares, budget.CPU_OVERHEAD_S)
    assert predicted <= presets.QUICK_BUDGET_S + 1e-6
    rbm = presets.RBM["quick"]
    reference = rbm.runs["reference"]
    assert reference.limit is None  # every training image
    assert reference.epochs == presets.QUICK.changes("reference")["epochs"]
    assert presets.DBN["quick"].runs["rbm"] == reference  # tasks 2 and 3 stand on the RBM lab's reference run
    assert rbm.variant("k=25", reference).epochs == presets.QUICK.changes("k=25")["epochs"]
    assert "Budget of each run against the lab's settings" in rbm.note and "(lab: 100)" in rbm.note


def test_a_setting_given_with_set_replaces_the_plans_value_in_every_run():
    p = presets.RBM["quick"]
    changed = customized(p, None, parse(["rbm.epochs=3"], [p]))
    assert changed.runs["reference"].epochs == 3
    assert changed.variant("k=25", changed.runs["reference"].replace(cd_k=25)).epochs == 3
    kept = customized(p, None, parse(["eval.ais_runs=10"], [p]))
    assert kept.variant("k=25", RBMConfig()).epochs == presets.QUICK.changes("k=25")["epochs"]
    # a size given is measured, even genlab eval's own beside the quick evaluation's others
    longer = customized(p, None, parse(["eval.ais_betas=14500"], [p])).eval
    assert (longer.ais_betas, longer.raise_betas, longer.quick) == (14_500, 300, True)


def test_every_run_the_quick_plan_names_is_a_run_of_its_lab_and_gets_its_share():
    from genlab.lab import dbn, dcgan, rbm, vae

    jobs = [*rbm.plan(presets.RBM["quick"]), *dbn.plan_dbn(presets.DBN["quick"]), *vae.plan(presets.VAE["quick"]),
            *dcgan.plan(presets.DCGAN["quick"])]
    by_label = {job.label: job.config for job in jobs}
    rbm_labels = [label for label in presets.LAB_EPOCHS if label in presets.rbm_runs(presets.RBM["quick"])]
    assert len(rbm_labels) == 14  # the reference, real-valued v, k = 3, 10, 25, 4 learning rates, 4 sizes, PCD
    for label in (*rbm_labels, *presets.DCGAN_LABELS):
        assert by_label[label].epochs == presets.QUICK.changes(label)["epochs"], label
    assert by_label["(latent 20)"].epochs == presets.QUICK.changes("latent 20")["epochs"]
    assert by_label["(task 2: the top RBM)"].epochs == presets.QUICK.changes("top RBM")["epochs"]


def test_the_cpu_preset_keeps_tasks_1_to_4_at_one_share_and_gives_the_dcgans_the_rest():
    plan = presets.CPU
    assert budget.predicted_s(plan.items, plan.shares, budget.CPU_OVERHEAD_S) <= presets.CPU_BUDGET_S + 1e-6
    kept = {label: share.epochs for label, share in plan.shares.items() if label not in presets.DCGAN_LABELS}
    assert len(set(kept.values())) == 1  # every run of tasks 1 to 4 at one fraction of its lab epochs
    # more than the quick plan gives its kept runs, and the quick plan's runs beyond them (k=25, the VAE) far more
    assert presets.QUICK.shares["reference"].epochs < kept["reference"] <= 100
    assert presets.QUICK.shares["k=25"].epochs < kept["k=25"] and presets.QUICK.shares["latent 20"].epochs < kept["latent 20"]
    assert presets.RBM["cpu"].variant("k=25", presets.RBM["cpu"].runs["reference"]).epochs == plan.changes("k=25")["epochs"]
    assert presets.DBN["cpu"].runs["rbm"] == presets.RBM["cpu"].runs["reference"]
    assert presets.DCGAN["cpu"].runs["vae"] == presets.VAE["cpu"].runs["latent 20"]
    assert "Planned for 60 minutes" in presets.VAE["cpu"].note
