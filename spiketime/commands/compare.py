"""`spiketime compare`: does the deployed network behave like the trained one, with evidence?

Exit 0 when parity PASSED, 1 when it FAILED, 3 when it is INCONCLUSIVE (degenerate
networks, a sensitivity at chance, or too few samples for the tolerance: see
`spiketime.parity.verdict`), 2 on bad input (one `error:` line).

With --nir, the trained side is a NIR graph's float reference (`sim.nir_reference`),
judged by the statistics alone, and a per-layer spike agreement table is added. The work
is `spiketime.parity.compare_job`'s; this module parses the options and prints.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from spiketime import guards
from spiketime.data.perturb import PERTURBATIONS
from spiketime.errors import UserError


def _levels(perturbation):
    """argparse type for a comma-separated list of a perturbation's levels ("" or "none" =
    no levels), each within its range."""
    kind, hi = perturbation.level, perturbation.max_level

    def parse(text: str) -> tuple[float, ...]:
        if text.strip().lower() in ("", "none"):
            return ()
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated numbers, got {text!r}") from None
        bad = [v for v in values if not (math.isfinite(v) and 0 <= v <= hi)]
        if bad:
            bound = "in [0, 1]" if hi == 1.0 else "finite and >= 0"
            raise argparse.ArgumentTypeError(f"{kind} must be {bound}, got {bad[0]:g}")
        return values

    parse.__name__ = f"{kind} list"
    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    def fmt(values: tuple[float, ...]) -> str:
        return ",".join(f"{v:g}" for v in values)

    p = subparsers.add_parser(
        "compare", help="trained vs deployed under time reversal, jitter and deletion: "
                        "a statistical parity verdict, report and plots")
    src = p.add_argument_group("what to compare (either --model, --netx and --data, or --report)")
    src.add_argument("--model", type=guards.input_path,
                     help="trained checkpoint (model.pt, best.pt)")
    src.add_argument("--model-factory", metavar="MODULE:FUNCTION",
                     help="instead of --model: your own lava-dl SLAYER network, returned "
                          "(weights loaded) by FUNCTION() in MODULE; its layers are "
                          "slayer.block.cuba.Dense blocks in network.blocks (docs/train.md)")
    src.add_argument("--nir", type=guards.input_path,
                     help="instead of --model: a NIR graph (model.nir), run by spiketime's float "
                          "reference of NIR's equations against the NetX network (docs/nir.md); "
                          "judged by the statistics alone, plus a per-layer spike agreement")
    src.add_argument("--nir-reference", choices=("float", "chip"), default="float",
                     help="with --nir: float (default), NIR's equations in float64, judged by "
                          "the statistics; or chip, the graph quantized as `import` does and "
                          "run in the chip's integers, judged by spike identity")
    src.add_argument("--netx", type=guards.input_path, help="deployed NetX network (model.net)")
    src.add_argument("--data", type=guards.input_path,
                     help="dataset file (with --report: overrides the report's)")
    src.add_argument("--report", type=guards.input_path,
                     help="a `spiketime pipeline` report.json: compare every model it names")
    p.add_argument("--backends",
                   help="comma-separated: emulator, lava-cpu, loihi2, auto (default "
                        "emulator,lava-cpu; with --nir: emulator); the emulator runs every "
                        "sample, the others --lava-subset samples")
    p.add_argument("--out", type=guards.path,
                   help="report folder (default: 'compare' beside the report or the NetX file)")
    p.add_argument("--tolerance", type=float, default=1.0, metavar="PP",
                   help="allowed deployed-minus-trained difference, percentage points "
                        "(default %(default)s)")
    p.add_argument("--lava-subset", type=int, default=32, metavar="N",
                   help="samples per condition for lava-cpu / loihi2 (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seeds perturbations, subset and bootstrap")
    for pert in PERTURBATIONS.values():  # one option per perturbation, from its table entry
        levels = pert.default_levels
        p.add_argument(pert.option, type=_levels(pert), default=levels,
                       metavar=f"{pert.level.upper()}S",
                       help=f"{pert.help} (default {fmt(levels) if levels else 'none'}; none "
                            f"to skip)")
    p.add_argument("--statistical-only", dest="exact", action="store_false",
                   help="judge the simulators by the accuracy intervals alone; by default they "
                        "must also give every output spike identical, as they are bit-exact")
    p.add_argument("--allow-degenerate", action="store_true",
                   help="warn instead of INCONCLUSIVE (exit 3) when a network is degenerate "
                        "(silent, one class, at chance): for parity of a deliberately "
                        "trivial network")
    p.add_argument("--resamples", type=int, default=2000,
                   help="bootstrap resamples (default %(default)s)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="interval level (default %(default)s)")
    p.add_argument("--split", choices=("train", "test"), default="test", help="default: test")
    p.add_argument("--limit", type=int, help="use only the first N samples of the split")
    p.set_defaults(func=run)


def _out(args: argparse.Namespace) -> Path:
    """The report folder, once the sources given are a valid combination (no file read)."""
    if args.nir is not None and (args.model is not None or args.model_factory is not None
                                 or args.report is not None):
        raise UserError("give --nir or --model / --model-factory / --report, not both")
    if args.report is not None:
        if args.model is not None or args.netx is not None or args.model_factory is not None:
            raise UserError("give either --report or --model and --netx, not both")
        from spiketime.parity.reports import read_report

        read_report(args.report)  # a report of an unknown version is refused here
        default_out = args.report.parent / "compare"
    else:
        if args.model is not None and args.model_factory is not None:
            raise UserError("give either --model or --model-factory, not both")
        trained = ("--nir", args.nir) if args.nir is not None else (
            "--model", args.model if args.model_factory is None else args.model_factory)
        given = (trained, ("--netx", args.netx), ("--data", args.data))
        missing = [option for option, value in given if value is None]
        if missing:
            raise UserError(f"{', '.join(missing)} required (or --report REPORT.json)")
        default_out = args.netx.parent / "compare"
    return args.out if args.out is not None else default_out


def run(args: argparse.Namespace) -> int:
    from spiketime.parity.layer_agreement import LAYER_FILES
    from spiketime.parity.reports import REPORT_FILES

    guards.seed(args.seed)
    files = REPORT_FILES + (LAYER_FILES if args.nir is not None else ())
    out = guards.output_folder(_out(args), files, "--out")  # before any work

    from spiketime.parity import compare_job
    from spiketime.parity.verdict import announce

    if args.report is not None:
        models, data = compare_job.report_models(args.report, args.data)
    else:
        models = (compare_job.model_spec(args.netx, checkpoint=args.model,
                                         factory=args.model_factory, nir=args.nir,
                                         nir_arithmetic=args.nir_reference),)
        data = args.data
    cfg = compare_job.config(
        models, data, out=out, backends=args.backends, tolerance_pp=args.tolerance,
        lava_subset=args.lava_subset, seed=args.seed,
        **{name: getattr(args, name) for name in PERTURBATIONS},
        resamples=args.resamples, confidence=args.confidence, split=args.split,
        limit=args.limit, exact=args.exact, allow_degenerate=args.allow_degenerate)
    with guards.undo_on_failure(out):
        result = compare_job.compare(cfg)
        report_md = result.save(out)
    for line in result.lines(out):
        print(line)
    return announce(result.report.parity.decision, report_md)
