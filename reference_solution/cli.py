"""Command line: ``python -m reference_solution <command>``.

Commands:
  make-data       write the synthetic stratosphere in the course's file format
  pipeline        the main job: data -> WGAN-GP -> classifier -> detection -> report
  screenshots     the README's explorer screenshots from a finished pipeline run
  sync-support    copy the support package next to the source notebooks (to run them in place)
  release         regenerate release/<assignment> (and the language editions) from source/
  translate       bring translations/<language>/<assignment>.po in line with the English notebook
  autograde-demo  autograde complete, partial and blank example submissions in a scratch course
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def course_root(start: Path | None = None) -> Path:
    """The course being worked on: the nearest folder at or above ``start`` (the working
    directory) holding ``nbgrader_config.py``. The installed package's own checkout is never
    assumed: with an editable install, that would silently act on another copy of the course."""
    start = (Path.cwd() if start is None else Path(start)).resolve()
    for folder in [start, *start.parents]:
        if (folder / "nbgrader_config.py").is_file():
            return folder
    raise FileNotFoundError(f"no nbgrader_config.py in {start} or above: run this command inside "
                            f"a course folder or pass --root COURSE (this package is installed "
                            f"from {REPO_ROOT})")


def _make_data(a: argparse.Namespace) -> int:
    from .coursekit.stratosphere import event_summary, read_events
    from .coursekit.synthetic_files import write_course_files

    files = write_course_files(a.out, winters=a.winters, size=a.size, seed=a.seed,
                               progress=not a.quiet)
    events = read_events(files.events)
    summary = event_summary(events, winters=a.winters)
    print(f"wrote {files.pv.parent}: {len(events['date'])} days at {a.size} px")
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _pipeline(a: argparse.Namespace) -> int:
    from .wgan_anomalies.pipeline import run_pipeline

    result = run_pipeline(a.out, preset=a.preset, data_dir=a.data, device=a.device,
                          progress=not a.quiet, seed=a.seed)
    m = result.metrics
    print(f"report: {Path(a.out) / 'report'}  ({m['timings']['total_s']:.0f} s on {m['device']})")
    print(f"flagged {m['flagged_days']} of {m['days']} days (scheme {m['primary_scheme']}, "
          f"P > {m['threshold']})")
    for name, auc in (m.get("roc_auc_summary") or {}).items():
        print(f"  ROC-AUC {name:>22}: {auc:.3f}" if auc is not None else f"  {name}: n/a")
    return 0


def _screenshots(a: argparse.Namespace) -> int:
    from .course.screenshots import write_screenshots

    for path in write_screenshots(a.run, a.out, tuple(a.views)):
        print(f"wrote {path}")
    return 0


def _course(a: argparse.Namespace) -> Path:
    """The course a command acts on, refusing when its own instructor package is not this one."""
    root = (a.root or course_root()).resolve()
    own = root / "reference_solution"
    if own.is_dir() and own.resolve() != REPO_ROOT / "reference_solution":
        raise ValueError(f"the course {root} has its own reference_solution/, but this command runs "
                         f"the copy in {REPO_ROOT}: run it as `python -m reference_solution` from "
                         f"{root} (or `pip install -e {root}`)")
    return root


def _sync_support(a: argparse.Namespace) -> int:
    from .course.release import sync_support

    for path in sync_support(_course(a)):
        print(f"wrote {path}")
    return 0


def _release(a: argparse.Namespace) -> int:
    from .course.catalogues import write_editions
    from .course.release import assignments, generate_release
    from .course.solution_module import MODULES, write

    root = _course(a)
    for path in write_editions(root):  # first: an edition's release is generated from it
        print(f"{path.relative_to(root)} regenerated")
    names = a.assignments or assignments(root)
    for name in names:
        generate_release(root, name)
        print(f"release/{name} regenerated")
        if name in MODULES:
            print(f"{write(name, root).relative_to(root)} regenerated")
    return 0


def _translate(a: argparse.Namespace) -> int:
    import nbformat

    from .course.catalogues import (
        catalogue_path,
        check_units,
        checks_path,
        support_path,
        update_catalogue,
        update_messages,
    )
    from .course.release import edition_support_units

    root = _course(a)
    english = root / "source" / a.assignment / f"{a.assignment}.ipynb"
    if not english.is_file():
        raise FileNotFoundError(f"no English notebook {english}")
    path = catalogue_path(root, a.assignment, a.language)
    todo = update_catalogue(nbformat.read(english, as_version=4), path, a.language)
    checks = checks_path(root, a.language)  # the hidden checks' descriptions, once the edition exists
    todo_checks = update_messages(check_units(root, a.language), checks, a.language)
    support = support_path(root, a.language)  # the support code's figure and widget texts
    todo_support = update_messages(edition_support_units(root, a.language), support, a.language)
    for where, items in ((path, todo), (checks, todo_checks), (support, todo_support)):
        print(f"{where.relative_to(root)}: {len(items)} texts to translate or revisit"
              + "".join(f"\n  {c}" for c in items[:40]))
    if not todo and not todo_checks and not todo_support:
        print("complete: run `python -m reference_solution release` to rebuild the edition")
    return 0


def _autograde_demo(a: argparse.Namespace) -> int:
    from .course.autograde import demo

    print(demo(a.assignment, root=_course(a)))
    return 0


def _add_root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, default=None, help="course root (default: the nearest "
                   "folder at or above the working directory that holds nbgrader_config.py)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reference_solution", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("make-data", help="write synthetic course files")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--winters", type=int, default=30, help="winters of 151 days (default 30)")
    p.add_argument("--size", type=int, default=64, help="grid size in pixels (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_make_data)

    p = sub.add_parser("pipeline", help="run the whole first assignment and write a report")
    p.add_argument("--out", type=Path, required=True, help="run folder (resumes if it exists)")
    p.add_argument("--preset", choices=["quick", "medium", "full"], default="quick",
                   help="quick: 32 px CPU run (under 10 min on 2 cores); medium: 64 px CPU run "
                        "(about 30 min); full: 256 px for a GPU")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the synthetic data and of every training run (default: 0)")
    p.add_argument("--data", type=Path, default=None,
                   help="folder with the real course files (default: make synthetic data)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_pipeline)

    p = sub.add_parser("screenshots", help="explorer screenshots from a finished pipeline run")
    p.add_argument("--run", type=Path, default=Path("runs/quick"), help="pipeline run folder")
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="output folder")
    p.add_argument("--views", nargs="*", default=["dataset", "latent", "anomalies", "langevin"],
                   choices=["dataset", "latent", "anomalies", "langevin"], help="views to render")
    p.set_defaults(func=_screenshots)

    p = sub.add_parser("sync-support", help="copy the support package next to the source notebooks (git-ignored)")
    _add_root(p)
    p.set_defaults(func=_sync_support)

    p = sub.add_parser("release", help="regenerate release/ from source/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    _add_root(p)
    p.set_defaults(func=_release)

    p = sub.add_parser("translate", help="update a language edition's catalogue from the English notebook")
    p.add_argument("assignment")
    p.add_argument("--language", default="ru")
    _add_root(p)
    p.set_defaults(func=_translate)

    p = sub.add_parser("autograde-demo", help="autograde three example submissions")
    p.add_argument("assignment", nargs="?", default="wgan_anomalies")
    _add_root(p)
    p.set_defaults(func=_autograde_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
