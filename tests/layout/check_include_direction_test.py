#!/usr/bin/python3
"""check_include_direction.py on small made-up trees: passes a clean one, and names the file,
line and target of each kind of offence. Standard library only (unittest)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_include_direction.py")


class Tree:
    """formats (bottom, with a header-only error root), kernels -> error root, model -> formats
    and kernels, jobs -> model: the real table's shape, in miniature."""

    def __init__(self, top):
        self.src = os.path.join(top, "src")
        self.roots_dir = os.path.join(top, "build", "include-roots")
        self.roots = {"error": "formats/error.h", "formats": "formats", "kernels": "kernels",
                      "model": "runtime/model", "jobs": "runtime/jobs"}
        self.uses = {"formats": [], "kernels": ["error"], "model": ["formats", "kernels"],
                     "jobs": ["model", "formats", "kernels"]}
        self.files = {
            "formats/error.h": "",
            "formats/tensor.h": '#include "formats/error.h"\n',
            "kernels/gemm.h": '#include "formats/error.h"\n#include <vector>\n',
            "kernels/avx2/gemm__avx2.cpp": '#include "kernels/gemm.h"\n',
            "runtime/CMakeLists.txt": "",
            "runtime/model/encoder.h": '#include "formats/tensor.h"\n#include "kernels/gemm.h"\n',
            "runtime/model/encoder.cpp": '#include "runtime/model/encoder.h"\n#include "sparq_version.h"\n',
            "runtime/jobs/job.h": '#include "runtime/model/encoder.h"\n',
        }

    def write(self):
        for path, text in self.files.items():
            os.makedirs(os.path.dirname(os.path.join(self.src, path)), exist_ok=True)
            with open(os.path.join(self.src, path), "w") as f:
                f.write(text)
        owners = {}
        for name, uses in self.uses.items():
            folder = self.roots[name]
            owners[name] = {
                "folder": folder, "target": f"sparq_{name}",
                "include_dirs": [f"{self.roots_dir}/{r}" for r in [name] + uses] + ["/usr/include"],
                # Like sparq_add_module's glob: the folder's own .cpp files, not its subfolders'.
                "sources": [os.path.join(self.src, p) for p in self.files if p.endswith(".cpp") and os.path.dirname(p) == folder],
            }
        layout = os.path.join(self.src, "..", "layout.json")
        with open(layout, "w") as f:
            json.dump({"source_dir": self.src, "include_roots": self.roots_dir, "roots": self.roots, "owners": owners}, f)
        return layout


class CheckIncludeDirection(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.tree = Tree(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def check(self):
        return subprocess.run([sys.executable, CHECK, self.tree.write()], capture_output=True, text=True)

    def assert_fails_with(self, *lines):
        r = self.check()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for line in lines:
            self.assertIn(line, r.stderr)
        self.assertIn(f"FAIL: {len(lines)} layout problems", r.stderr)

    def test_a_clean_tree_passes(self):
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("7 includes in 4 owners' folders", r.stdout)

    def test_an_include_upwards_names_file_line_and_target(self):
        self.tree.files["runtime/model/encoder.cpp"] += '#include "runtime/jobs/job.h"\n'
        self.assert_fails_with("runtime/model/encoder.cpp:3 -> jobs: includes runtime/jobs/job.h; "
                               "model may include only formats, kernels, model")

    def test_a_header_only_root_exposes_that_header_alone(self):
        self.tree.files["kernels/gemm.h"] += '#include "formats/tensor.h"\n'
        self.assert_fails_with("kernels/gemm.h:3 -> formats: includes formats/tensor.h")

    def test_relative_and_angle_includes_are_resolved_like_the_compiler(self):
        self.tree.files["kernels/avx2/gemm__avx2.cpp"] += '#include "../../runtime/model/encoder.h"\n'
        self.tree.files["formats/tensor.h"] += "#include <kernels/gemm.h>\n"
        self.assert_fails_with(
            "kernels/avx2/gemm__avx2.cpp:2 -> model: includes ../../runtime/model/encoder.h (runtime/model/encoder.h)",
            "formats/tensor.h:2 -> kernels: includes kernels/gemm.h")

    def test_a_file_outside_every_root_is_forbidden(self):
        self.tree.files["tests/helper.h"] = ""
        self.tree.files["runtime/jobs/job.h"] += '#include "tests/helper.h"\n'
        self.assert_fails_with("runtime/jobs/job.h:2 -> no module: includes tests/helper.h")

    def test_a_cycle_in_the_table(self):
        self.tree.uses["formats"] = ["model"]
        self.assert_fails_with("cycle: formats -> model -> formats", "cycle: formats -> model -> kernels -> formats")

    def test_runtime_files_outside_modules_or_not_compiled(self):
        self.tree.files["runtime/stray.cpp"] = ""
        self.tree.files["runtime/model/sub/forgotten.cpp"] = ""
        self.assert_fails_with("runtime/stray.cpp: under runtime/ but in no module's folder",
                               "runtime/model/sub/forgotten.cpp: in model's folder but sparq_model does not compile it")

if __name__ == "__main__":
    unittest.main()
