/* Shared by the unit tests. */
#ifndef RBD_TESTUTIL_H
#define RBD_TESTUTIL_H

#include <check.h>

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Run every test of suite s; the exit status for main(). */
int rbd_test_run(Suite *s);

#endif
