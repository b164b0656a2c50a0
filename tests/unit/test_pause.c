/*
 * tests/unit/test_pause.c - router/admin/pause.c's bookkeeping of the console's PAUSE and
 * RESUME: which databases are paused, the errors for pausing twice and resuming what is
 * not paused, and how a PAUSE still waiting for its servers learns that a RESUME came
 * first. (How pools behave while paused is test_poolmodel.c's.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "router/admin/pause.h"
#include "router/worker.h"

struct fixture {
    uv_loop_t loop;
    struct worker w;
    struct shared sh;           /* the node table (zero: usable as is) */
};

static int setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    assert_int_equal(uv_loop_init(&f.loop), 0);
    f.w.loop = &f.loop;
    worker_attach(&f.w, &f.sh);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(uv_loop_close(&f->loop), 0);
    return 0;
}

static void test_pause_one_database_leaves_the_others(void **state)
{
    struct worker *w = &((struct fixture *)*state)->w;

    assert_false(pause_active(w, "appdb"));
    assert_int_equal(pause_set(w, "appdb", 0), 0);
    assert_true(pause_active(w, "appdb"));
    assert_false(pause_active(w, "other"));
    assert_false(pause_active(w, "appdb2"));
    assert_int_equal(pause_set(w, "appdb", 0), -EALREADY);
    assert_int_equal(pause_clear(w, "other"), -ENOENT);
    assert_int_equal(pause_clear(w, "appdb"), 0);
    assert_false(pause_active(w, "appdb"));
    assert_int_equal(pause_clear(w, "appdb"), -ENOENT);
    assert_int_equal(pause_clear(w, NULL), -ENOENT);
}

static void test_pause_everything_covers_every_database(void **state)
{
    struct worker *w = &((struct fixture *)*state)->w;

    assert_int_equal(pause_set(w, NULL, 0), 0);
    assert_true(pause_active(w, "appdb"));
    assert_true(pause_active(w, "other"));
    assert_int_equal(pause_set(w, NULL, 0), -EALREADY);
    assert_int_equal(pause_set(w, "appdb", 0), -EALREADY);
    /* RESUME of one database cannot lift a PAUSE of all of them. */
    assert_int_equal(pause_clear(w, "appdb"), -EBUSY);
    assert_int_equal(pause_clear(w, ""), 0);
    assert_false(pause_active(w, "appdb"));
}

static void test_resume_everything_lifts_single_pauses_too(void **state)
{
    struct worker *w = &((struct fixture *)*state)->w;

    assert_int_equal(pause_set(w, "a", 0), 0);
    assert_int_equal(pause_set(w, "b", 0), 0);
    assert_int_equal(pause_set(w, NULL, 0), 0);
    assert_int_equal(pause_clear(w, "a"), 0);   /* a's own pause; everything still is */
    assert_true(pause_active(w, "a"));
    assert_int_equal(pause_clear(w, NULL), 0);
    assert_false(pause_active(w, "a"));
    assert_false(pause_active(w, "b"));
    assert_int_equal(w->pause.n_active, 0);
}

static void test_waiting_pause_learns_it_was_cancelled(void **state)
{
    struct worker *w = &((struct fixture *)*state)->w;

    assert_int_equal(pause_set(w, "appdb", 42), 0);
    assert_int_equal(pause_mine(w, "appdb", 42), 1);
    assert_int_equal(pause_mine(w, "appdb", 43), -1);   /* another session's */
    assert_int_equal(pause_mine(w, "other", 42), -1);
    assert_int_equal(pause_clear(w, "appdb"), 0);
    assert_false(pause_active(w, "appdb"));
    /* Its next call hears of the RESUME once, then the entry is free. */
    assert_int_equal(pause_mine(w, "appdb", 42), 0);
    assert_int_equal(pause_mine(w, "appdb", 42), -1);
    assert_int_equal(pause_set(w, "appdb", 0), 0);
    assert_int_equal(pause_clear(w, "appdb"), 0);
}

static void test_answered_pause_stays_until_resume(void **state)
{
    struct worker *w = &((struct fixture *)*state)->w;

    assert_int_equal(pause_set(w, NULL, 7), 0);
    pause_answered(w, NULL, 7);
    assert_int_equal(pause_mine(w, NULL, 7), -1);
    assert_true(pause_active(w, "x"));
    assert_int_equal(pause_clear(w, NULL), 0);
    assert_false(pause_active(w, "x"));
}

static void test_cancelled_pause_of_a_client_gone_frees_its_slot(void **state)
{
    struct worker *w = &((struct fixture *)*state)->w;

    /* Fill every slot with a PAUSE whose client left while a RESUME cancelled it. */
    for (int i = 0; i < PAUSE_MAX; i++) {
        char db[16];

        snprintf(db, sizeof(db), "db%d", i);
        assert_int_equal(pause_set(w, db, (uint32_t)(100 + i)), 0);
    }
    assert_int_equal(pause_set(w, "one-more", 0), -ENOSPC);
    assert_int_equal(pause_clear(w, NULL), 0);
    /* Those slots wait to tell their PAUSE, whose clients may be gone: new PAUSEs take
     * them over, and the old PAUSE hears that the slot is not its own any more. */
    assert_int_equal(pause_set(w, "db3", 9), 0);
    assert_int_equal(pause_mine(w, "db3", 103), -1);
    assert_int_equal(pause_mine(w, "db3", 9), 1);
    assert_int_equal(pause_set(w, "one-more", 0), 0);
    assert_true(pause_active(w, "one-more"));
    assert_int_equal(pause_clear(w, NULL), 0);
    assert_int_equal(pause_mine(w, "db3", 9), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_one_database_leaves_the_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pause_everything_covers_every_database, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resume_everything_lifts_single_pauses_too, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_waiting_pause_learns_it_was_cancelled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_answered_pause_stays_until_resume, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_pause_of_a_client_gone_frees_its_slot,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
