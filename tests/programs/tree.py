"""A process tree with known block counts per process (tests/test_process_tree.py).

The root measures ``parent_setup`` once, forks a child (``fork_child`` x 200), starts
one multiprocessing child per start method (``mp_fork`` x 10, ``mp_spawn`` x 20,
``mp_forkserver`` x 30), maps ``pool_task`` over a fork Pool(2) (x 800), a
ProcessPoolExecutor(2) (``executor_task`` x 50), runs a Python subprocess (``sub_work``
x 40) and two threads (``thread_work`` x 25 each), then measures ``parent_work`` x 100.
"""

import multiprocessing as mp
import os
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

import zlprof

SUB = "import zlprof\nfor _ in range(40):\n    with zlprof.measure('sub_work'):\n        pass\n"


def work(name: str, n: int) -> None:
    for _ in range(n):
        with zlprof.measure(name):
            pass


def pool_task(i: int) -> int:
    with zlprof.measure("pool_task"):
        return i


def executor_task(i: int) -> int:
    with zlprof.measure("executor_task"):
        return i


def main() -> None:
    work("parent_setup", 1)
    pid = os.fork()
    if pid == 0:
        work("fork_child", 200)
        zlprof.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    for method, n in (("fork", 10), ("spawn", 20), ("forkserver", 30)):
        p = mp.get_context(method).Process(target=work, args=(f"mp_{method}", n))
        p.start()
        p.join()
    with mp.get_context("fork").Pool(2) as pool:
        assert sum(pool.map(pool_task, range(800))) == sum(range(800))
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
        assert sum(ex.map(executor_task, range(50))) == sum(range(50))
    subprocess.run([sys.executable, "-c", SUB], check=True)
    threads = [threading.Thread(target=work, args=("thread_work", 25)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work("parent_work", 100)


if __name__ == "__main__":
    main()
