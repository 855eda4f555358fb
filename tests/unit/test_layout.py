"""The layout's limits (issue 23): no plugin file over 400 lines, no function over 60."""
import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def plugin_sources():
    for root, _dirs, names in os.walk(os.path.join(REPO, 'plugins')):
        for name in sorted(names):
            if name.endswith('.py'):
                yield os.path.join(root, name)


def test_no_plugin_file_over_400_lines_and_no_function_over_60():
    long_files, long_functions = [], []
    paths = list(plugin_sources())
    for path in paths:
        with open(path) as f:
            text = f.read()
        rel = os.path.relpath(path, REPO)
        if text.count('\n') > MAX_FILE_LINES:
            long_files.append((rel, text.count('\n')))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append((rel, node.name, length))
    assert len(paths) > 50
    assert long_files == [] and long_functions == [], (long_files, long_functions)
