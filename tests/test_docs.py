"""The README's commands are the ones CI runs, and the README's quickstart is executed by pytest (doctest)."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bash_blocks(text):
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = _bash_blocks(readme)
    test_commands = [b for b in blocks if "pytest" in b]
    assert len(test_commands) == 1, test_commands
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_commands[0] in ci


def test_readme_main_job_is_the_module_entry_point():
    readme = (ROOT / "README.md").read_text()
    main_jobs = [b for b in _bash_blocks(readme) if "python -m minimax" in b]
    assert main_jobs == ['python -m pip install -e ".[plot]" && python -m minimax']
