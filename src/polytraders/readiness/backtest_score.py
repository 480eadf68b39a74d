"""The Backtest score (seed 002: "Backtest 4"): the bot is reproducibly tunable against a known
synthetic feed. It says nothing about live performance (seed 002's honesty rule).

1. **Synthetic fixture present and loaded by tests.** The four cases
   ``tests/fixtures/bots/<bot_id>/{normal,warning,hard,failure}.json`` parse as JSON objects
   with their own ``bot_id`` and ``case``; and a fixture-pack test module
   (``tests/**/test_fixture_pack*.py``) loads the bot's pack, read statically from its source:
   a ``test_*`` function calls a pack loader (one of :data:`PACK_LOADERS` imported from
   :mod:`polytraders.readiness.packs`, or a function imported from a ``tests`` helper module
   whose body uses that module's fixture folder, a variable assigned from
   ``… / "fixtures" / "bots"``), and the module names the bot (its id as a string, or its
   class) itself, through a ``tests`` helper module it imports from, or by parametrising
   over ``packs.RISK_BOTS`` (the seven guards).
   Whether those tests pass is the Impl score's business (items 5–8, 13).
2. **Recorded envelope timeline checked in and reproducing.**
   ``runs/optimizer/<bot_id>/timeline.json`` exists and equals, key for key, what
   :func:`polytraders.optimize.references.timelines` produces when the bot's fixture desk (the
   default desk, or the example desk of a bot outside it) re-runs its synthetic fixture now
   (the code of ``polytraders reference-runs --check``, which compares four of the keys; here
   every key is compared). The re-run covers every bot's fixture at once (nine distinct
   spec and desk pairs, a few seconds on one core) and is made once per
   :class:`ReadinessContext` (``ctx.cache``). The code re-run is the installed package's.
3. **SEARCH_SPACE declared.** A :class:`SearchSpace` over the bot's own ``Config`` with no
   :meth:`~SearchSpace.problems` (every parameter a field, ranges inside the hard limits,
   choices valid). An empty space passes, said in the detail: seed 002 asks for "every tunable
   parameter", and a bot whose fields are all policy or venue facts
   (``risk.compliancegate``) has none; it then cannot meet item 4.
4. **Optimizer reference run on file.** ``runs/optimizer/<bot_id>/reference.json`` exists,
   parses, is this bot's, names a built-in score function
   (:data:`polytraders.optimize.scores.BUILTIN`; a ``module:function`` score is not imported
   from a data file) and winning parameters ``best.params`` that cover exactly the current
   ``SEARCH_SPACE``, each inside its range (on its step) or among its choices, and build a
   valid ``Config``; the space it records equals the current one, with the ``ranges`` it
   records for its data when it has some (``polytraders optimize --ranges``: each naming a
   parameter of the bot's, of the same type, within the config's hard limits). A missing file
   fails.
"""

from __future__ import annotations

import ast
import json
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
from pydantic import ValidationError

from polytraders.bots.registry import bot_class
from polytraders.contracts.search_space import (
    CategoricalParam,
    FloatParam,
    IntParam,
    Param,
    SearchSpace,
)
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import (
    ChecklistItem,
    Evidence,
    EvidenceKind,
    ItemStatus,
    Score,
    ScoreName,
    file_evidence,
    result_evidence,
)
from polytraders.readiness.packs import CASES, FIXTURES_DIR, RISK_BOTS
from polytraders.readiness.spec import same_value

PACKS_MODULE = "polytraders.readiness.packs"
PACK_LOADERS = frozenset(
    {"load_pack", "load_case", "pack_path", "run_case", "run_pack", "run_bot_pack"}
)
"""The pack loaders of :mod:`polytraders.readiness.packs` a test may call."""

RUNS_DIR = Path("runs") / "optimizer"
PACK_TEST_GLOB = "test_fixture_pack*.py"
"""The parametrised fixture-pack test modules, searched under ``tests/``."""

TITLES = (
    "Synthetic fixture exists and is loaded by tests",
    "Recorded ReportEnvelope timeline checked in and reproducing",
    "SEARCH_SPACE declares every tunable parameter, range and step",
    "An optimizer reference run is on file with its winning params and score function",
)
"""Seed 002's Backtest checklist, items 1–4."""

_TIMELINES_KEY = ("backtest_score", "timelines")


def _item(number: int, ok: bool, detail: str, evidence: Iterable[Evidence]) -> ChecklistItem:
    return ChecklistItem(
        number=number,
        title=TITLES[number - 1],
        status=ItemStatus.PASS if ok else ItemStatus.FAIL,
        detail=detail,
        evidence=tuple(evidence),
    )


def _read_json(path: Path) -> tuple[Any, str]:
    """The JSON in ``path`` and "" , or None and why not."""
    if not path.is_file():
        return None, "missing"
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"not JSON: {exc}"


# ------------------------------------------------------------------ 1. fixture and its tests


class _Module(NamedTuple):
    path: Path
    tree: ast.Module


def _parse(path: Path) -> _Module | None:
    try:
        return _Module(path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _helper(repo: Path, module: str) -> _Module | None:
    """The ``tests.…`` module ``module`` of ``repo``, parsed (None when absent)."""
    base = repo.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return _parse(path)
    return None


def _strings(tree: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _pack_loaders(tree: ast.Module) -> set[str]:
    """The module's top-level functions that build a path from a module-level variable
    assigned from ``… / "fixtures" / "bots"`` (the fixture folder)."""
    folders = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign) and {"fixtures", "bots"} <= _strings(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and _names(node) & folders
    }


def _names_bot(tree: ast.AST, bot_id: str, class_name: str) -> bool:
    return bot_id in _strings(tree) or class_name in _names(tree)


def _loads_pack(repo: Path, module: _Module, bot_id: str, class_name: str) -> str:
    """How ``module`` loads ``bot_id``'s pack ("" when it does not; see item 1)."""
    imports: dict[str, str] = {}
    loaders = set()
    packs_names: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests."):
            for alias in node.names:
                imports[alias.asname or alias.name] = node.module or ""
        elif isinstance(node, ast.ImportFrom) and node.module == PACKS_MODULE:
            for alias in node.names:
                packs_names.add(alias.name)
                if alias.name in PACK_LOADERS:
                    loaders.add(alias.asname or alias.name)
    for source in set(imports.values()):
        helper = _helper(repo, source)
        if helper is not None:
            loaders |= {n for n, s in imports.items() if s == source} & _pack_loaders(helper.tree)
    called: set[str] = set()
    for node in module.tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            called |= {
                c.func.id
                for c in ast.walk(node)
                if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in loaders
            }
    if not called:
        return ""
    if _names_bot(module.tree, bot_id, class_name):
        via = "itself"
    elif "RISK_BOTS" in packs_names and bot_id in RISK_BOTS:
        via = f"through {PACKS_MODULE}.RISK_BOTS"
    else:
        naming = sorted(
            source
            for source in set(imports.values())
            if (h := _helper(repo, source)) is not None and _names_bot(h.tree, bot_id, class_name)
        )
        if not naming:
            return ""
        via = f"through {', '.join(naming)}"
    return f"calls {', '.join(sorted(called))} in its tests and names the bot {via}"


def _fixture_item(bot_id: str, cls: Any, repo: Path) -> ChecklistItem:
    folder = FIXTURES_DIR / bot_id
    evidence = [file_evidence(repo, folder / f"{case}.json") for case in CASES]
    problems = []
    for case in CASES:
        data, why = _read_json(repo / folder / f"{case}.json")
        if why:
            problems.append(f"{case}.json {why}")
        elif not isinstance(data, dict):
            problems.append(f"{case}.json is not a JSON object")
        elif (data.get("bot_id"), data.get("case")) != (bot_id, case):
            problems.append(
                f"{case}.json says bot_id {data.get('bot_id')!r}, case {data.get('case')!r}"
            )
    loading = []
    for path in sorted((repo / "tests").rglob(PACK_TEST_GLOB)):
        module = _parse(path)
        how = _loads_pack(repo, module, bot_id, cls.__name__) if module is not None else ""
        if how:
            relative = path.relative_to(repo)
            loading.append(f"{relative.as_posix()} {how}")
            evidence.append(file_evidence(repo, relative))
    if not loading:
        problems.append(
            f"no tests/**/{PACK_TEST_GLOB} module calls a pack loader in a test and names the bot"
        )
    if problems:
        return _item(1, False, f"{folder.as_posix()}/: " + "; ".join(problems), evidence)
    detail = f"{folder.as_posix()}/ holds the 4 cases; loaded by " + "; ".join(loading)
    return _item(1, True, detail, evidence)


# ------------------------------------------------------------------ 2. timeline


class _Rerun(NamedTuple):
    documents: dict[str, dict[str, Any]]
    elapsed_s: float
    error: str


def _rerun(ctx: ReadinessContext) -> _Rerun:
    """Every bot's timeline re-run now, once per context."""
    cached = ctx.cache.get(_TIMELINES_KEY)
    if isinstance(cached, _Rerun):
        return cached
    start = time.perf_counter()
    try:
        from polytraders.optimize.references import timelines  # Optuna: imported on use

        rerun = _Rerun(timelines(), time.perf_counter() - start, "")
    except Exception as exc:  # a re-run that cannot run is reported, never a pass
        rerun = _Rerun({}, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    ctx.cache[_TIMELINES_KEY] = rerun
    return rerun


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _timeline_item(bot_id: str, ctx: ReadinessContext) -> ChecklistItem:
    relative = RUNS_DIR / bot_id / "timeline.json"
    evidence = [file_evidence(ctx.repo, relative)]
    recorded, why = _read_json(ctx.repo / relative)
    if why:
        return _item(2, False, f"{relative.as_posix()} {why}", evidence)
    rerun = _rerun(ctx)
    if rerun.error:
        return _item(2, False, f"the timelines could not be re-run: {rerun.error}", evidence)
    fresh = rerun.documents.get(bot_id)
    if fresh is None:
        detail = f"{bot_id} has no synthetic fixture (FIXTURES in optimize/references.py)"
        return _item(2, False, detail, evidence)
    evidence.append(
        result_evidence(
            EvidenceKind.COMMAND,
            "polytraders.optimize.references:timelines()",
            fresh,
            f"re-ran {len({(d['fixture'], d['desk']) for d in rerun.documents.values()})} "
            "fixtures "
            f"in {rerun.elapsed_s:.1f} s",
        )
    )
    if not isinstance(recorded, dict):
        return _item(2, False, f"{relative.as_posix()} is not a JSON object", evidence)
    differing = sorted(
        k for k in set(recorded) | set(fresh) if not same_value(recorded.get(k), fresh.get(k))
    )
    if differing:
        detail = f"{relative.as_posix()} does not reproduce on {fresh['fixture']}: " + "; ".join(
            f"{k} recorded {_short(recorded.get(k))}, re-run {_short(fresh.get(k))}"
            for k in differing
        )
        return _item(2, False, detail, evidence)
    detail = (
        f"{relative.as_posix()} reproduces: {fresh['bot_envelopes']} of the bot's envelopes "
        f"among {fresh['envelopes']} on {fresh['fixture']} (re-run in {rerun.elapsed_s:.1f} s)"
    )
    return _item(2, True, detail, evidence)


# ------------------------------------------------------------------ 3. search space


def _space_item(cls: Any) -> ChecklistItem:
    space = getattr(cls, "SEARCH_SPACE", None)
    ref = f"{cls.__module__}:{cls.__name__}.SEARCH_SPACE"
    if not isinstance(space, SearchSpace):
        evidence = result_evidence(EvidenceKind.CODE, ref, None, "not a SearchSpace")
        return _item(3, False, "SEARCH_SPACE is not a SearchSpace", [evidence])
    evidence = result_evidence(
        EvidenceKind.CODE,
        ref,
        space.to_dict(),
        f"{len(space)} parameters" if len(space) else "empty",
    )
    problems = (
        []
        if space.config_cls is cls.Config
        else [f"SEARCH_SPACE is over {space.config_cls.__name__}, not {cls.Config.__name__}"]
    )
    problems += space.problems()
    if problems:
        return _item(3, False, "SEARCH_SPACE: " + "; ".join(problems), [evidence])
    fields = len(cls.Config.model_fields)
    if not len(space):
        detail = (
            f"SEARCH_SPACE declared and empty: none of {cls.Config.__name__}'s {fields} fields "
            "is declared tunable (policy, attribution and venue facts, not optimizer inputs); "
            "an empty space describes every tunable parameter there is, so this passes, and no "
            "reference run can exist (item 4)"
        )
        return _item(3, True, detail, [evidence])
    detail = (
        f"SEARCH_SPACE declares {len(space)} of {cls.Config.__name__}'s {fields} fields, "
        "consistent with its hard limits"
    )
    return _item(3, True, detail, [evidence])


# ------------------------------------------------------------------ 4. reference run


def _outside(param: Param, value: Any) -> str:
    """Why ``value`` lies outside ``param`` ("" when inside)."""
    if isinstance(param, CategoricalParam):
        ok = any(same_value(value, c) for c in param.choices)
        return "" if ok else f"{value!r} not among {list(param.choices)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} is not a number"
    if not param.low <= value <= param.high:
        return f"{value} outside [{param.low}, {param.high}]"
    if isinstance(param, IntParam):
        if not isinstance(value, int) or (value - param.low) % param.step:
            return f"{value} not on the grid {param.low} + k × {param.step}"
    elif isinstance(param, FloatParam) and param.step is not None:
        steps = (value - param.low) / param.step
        if not math.isclose(steps, round(steps), abs_tol=1e-6):
            return f"{value} not on the grid {param.low} + k × {param.step}"
    return ""


def _searched_space(bot_id: str, space: SearchSpace, ranges: Any) -> tuple[SearchSpace, str]:
    """The space a study searched: the bot's with the ``ranges`` its summary records
    (``polytraders optimize --ranges``; none: the bot's own), and why it cannot be one ("" when
    it can: every range names a parameter of the bot's, keeps its type and lies within the
    config's hard limits)."""
    from polytraders.optimize.space import space_problems

    try:
        searched = space.with_ranges(msgspec.convert(ranges, tuple[Param, ...]))
    except (msgspec.ValidationError, ValueError) as exc:
        return space, f"the ranges it records do not fit SEARCH_SPACE: {exc}"
    problems = space_problems(bot_id, searched)
    if problems:
        return space, "the ranges it records leave the hard limits: " + "; ".join(problems)
    return searched, ""


def _reference_problems(bot_id: str, cls: Any, document: Any) -> list[str]:
    from polytraders.optimize.scores import BUILTIN

    if not isinstance(document, dict):
        return ["not a JSON object"]
    problems = []
    if document.get("bot_id") != bot_id:
        problems.append(f"bot_id is {document.get('bot_id')!r}")
    score = document.get("score")
    if not isinstance(score, str) or score not in BUILTIN:
        problems.append(f"score {score!r} is not a built-in score ({', '.join(BUILTIN)})")
    space, why = _searched_space(bot_id, cls.SEARCH_SPACE, document.get("ranges", []))
    if why:
        return [*problems, why]
    if not same_value(document.get("search_space"), space.to_dict()):
        problems.append(
            "the search space it records differs from the current SEARCH_SPACE"
            + (" with the ranges it records" if document.get("ranges") else "")
        )
    best = document.get("best")
    params = best.get("params") if isinstance(best, dict) else None
    if not isinstance(params, dict):
        return [*problems, "no winning parameters (best.params)"]
    names = space.names()
    if set(params) != set(names):
        missing, extra = sorted(set(names) - set(params)), sorted(set(params) - set(names))
        problems.append(f"winning params miss {missing} and add {extra}")
    by_name = {p.name: p for p in space}
    problems += [
        f"{name}: {why}"
        for name, value in params.items()
        if name in by_name and (why := _outside(by_name[name], value))
    ]
    if not problems:
        try:
            space.build(params)
        except (KeyError, ValidationError) as exc:
            problems.append(f"the winning params do not build a valid config: {exc}")
    return problems


def _reference_item(bot_id: str, cls: Any, repo: Path) -> ChecklistItem:
    relative = RUNS_DIR / bot_id / "reference.json"
    evidence = [file_evidence(repo, relative)]
    document, why = _read_json(repo / relative)
    if why:
        empty = isinstance(cls.SEARCH_SPACE, SearchSpace) and not len(cls.SEARCH_SPACE)
        note = (
            " (none can exist while SEARCH_SPACE is empty: `polytraders optimize` refuses an "
            "empty space)"
            if empty
            else ""
        )
        return _item(4, False, f"{relative.as_posix()} {why}{note}", evidence)
    problems = _reference_problems(bot_id, cls, document)
    if problems:
        return _item(4, False, f"{relative.as_posix()}: " + "; ".join(problems), evidence)
    best = document["best"]
    detail = (
        f"{relative.as_posix()}: {document.get('trials')}-trial study tuned for "
        f"`{document['score']}`, best trial {best.get('number')} (score {best.get('score')}) "
        f"with {len(best['params'])} params inside SEARCH_SPACE"
        + (
            f" (with {len(document['ranges'])} ranges of its data, within the hard limits)"
            if document.get("ranges")
            else ""
        )
        + f" and valid for {cls.Config.__name__}"
    )
    return _item(4, True, detail, evidence)


def backtest_score(bot_id: str, ctx: ReadinessContext) -> Score:
    """The Backtest score of ``bot_id``: seed 002's four items (module docstring).

    Reads the fixture pack, the test modules and ``runs/optimizer/<bot_id>/`` under
    ``ctx.repo``; re-runs the timelines once per ``ctx`` (about 2 s).

    Raises:
        KeyError: ``bot_id`` is not a library bot.
    """
    cls = bot_class(bot_id)
    items = (
        _fixture_item(bot_id, cls, ctx.repo),
        _timeline_item(bot_id, ctx),
        _space_item(cls),
        _reference_item(bot_id, cls, ctx.repo),
    )
    return Score(bot_id=bot_id, name=ScoreName.BACKTEST, items=items)
