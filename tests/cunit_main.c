/*
 * One main() for every CUnit executable: the test file defines
 * `CU_SuiteInfo ballast_test_suites[]` (ended by CU_SUITE_INFO_NULL), this
 * registers and runs them and exits non-zero when any assertion failed, so
 * ctest sees the failure. An optional argv[1] runs only the suite of that name.
 */
#include "cunit_main.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (CU_register_suites(ballast_test_suites) != CUE_SUCCESS) {
        fprintf(stderr, "cunit: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (argc > 1) {
        CU_pSuite suite = CU_get_suite(argv[1]);
        if (!suite) {
            fprintf(stderr, "cunit: no suite named %s\n", argv[1]);
            CU_cleanup_registry();
            return 2;
        }
        CU_basic_run_suite(suite);
    } else {
        CU_basic_run_tests();
    }
    unsigned failed = CU_get_number_of_failures();
    unsigned run = CU_get_number_of_tests_run();
    unsigned suites_failed = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    if (run == 0) {
        fprintf(stderr, "cunit: no test ran\n");
        return 2;
    }
    return failed || suites_failed ? 1 : 0;
}
