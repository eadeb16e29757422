/* Shared by every CUnit test executable; see cunit_main.c. */
#ifndef BALLAST_CUNIT_MAIN_H
#define BALLAST_CUNIT_MAIN_H

#include <CUnit/CUnit.h>

/* Each test executable defines exactly one of these. */
extern CU_SuiteInfo ballast_test_suites[];

#endif
