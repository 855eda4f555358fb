# Copyright: linuxnet.container_network developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Loaded by bench/pyprof (PYTHONPATH): profiles the whole module process with cProfile and
# writes $LINUXNET_BENCH_PROFILE_DIR/<script>.<pid>.prof at exit.
import atexit
import cProfile
import os
import sys

_dir = os.environ.get("LINUXNET_BENCH_PROFILE_DIR")
if _dir:
    _prof = cProfile.Profile()

    def _dump():
        _prof.disable()
        name = os.path.basename(sys.argv[0] if sys.argv and sys.argv[0] else "python")
        if name.startswith("AnsiballZ_"):
            name = name[len("AnsiballZ_"):]
        _prof.dump_stats(os.path.join(_dir, "%s.%d.prof" % (name.rsplit(".py", 1)[0], os.getpid())))

    atexit.register(_dump)
    _prof.enable()
