#!/usr/bin/python3
# test/interop/suite.py: runs the interop peer's unittest suites.
#
#   suite.py vectors          the SCP03 host against the published vectors
#   suite.py card [TEST...]   the card tests in MNAP_TRANSPORT's mode
#                             (TEST: a class or Class.test_method of test_card)
#
# Prints one line per test and closes with "<what>: N passed, N failed" (a
# skipped test is named with its reason and counted apart).  Exit status 0
# when nothing failed.
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.time()
        super().startTest(test)


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "card"
    names = sys.argv[2:]
    loader = unittest.TestLoader()
    if what == "vectors":
        import test_vectors
        suite = loader.loadTestsFromModule(test_vectors)
        label = "interop vectors"
    else:
        import test_card
        suite = loader.loadTestsFromNames(names, test_card) if names else loader.loadTestsFromModule(test_card)
        label = "interop %s" % os.environ.get("MNAP_TRANSPORT", "t1")
    t0 = time.time()
    res = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result).run(suite)
    # count tests, not checks: a test with failing subtests is one failed
    # test; a class whose set-up failed counts as one failed test
    def base(t):
        return getattr(t, "test_case", t)
    bad = res.failures + res.errors
    failed_ids = {base(t).id() for t, _ in bad}
    ran_failed = {base(t).id() for t, _ in bad if isinstance(base(t), unittest.TestCase)}
    passed = res.testsRun - len(res.skipped) - len(ran_failed)
    failed = len(failed_ids) + len(res.unexpectedSuccesses)
    print("%s: %d passed, %d failed%s (%d failing checks, %.1f s)" % (
        label, passed, failed, ", %d skipped" % len(res.skipped) if res.skipped else "", len(bad), time.time() - t0))
    sys.exit(1 if failed else 0)


main()
