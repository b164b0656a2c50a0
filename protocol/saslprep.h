/*
 * protocol/saslprep.h - SASLprep (RFC 4013, a profile of RFC 3454 stringprep) of a
 * password, exactly as PostgreSQL's pg_saslprep does it before SCRAM derives keys from a
 * password, including where PostgreSQL falls back to the password's raw bytes.
 */
#ifndef PGROUTER_SASLPREP_H
#define PGROUTER_SASLPREP_H

#include <stddef.h>

/*
 * Room that is always enough for saslprep()'s output of an n-byte input, NUL included:
 * NFKC grows UTF-8 text at most 11-fold (U+FDFA: 3 bytes become 33).
 */
#define SASLPREP_CAP(n) ((n) * 11 + 1)

/*
 * SASLprep the NUL-terminated password in, following PostgreSQL's pg_saslprep step by step:
 *  - pure ASCII is returned unchanged (control characters included);
 *  - otherwise in must be valid UTF-8 (RFC 3629: no overlongs, surrogates or code points
 *    above U+10FFFF);
 *  - map: non-ASCII spaces (RFC 3454 C.1.2) become U+0020, "commonly mapped to nothing"
 *    (B.1) characters are dropped; an empty result is refused;
 *  - normalize the mapped text with NFKC;
 *  - refuse prohibited output (C.1.2, C.2.1, C.2.2, C.3 - C.9) and code points unassigned
 *    in Unicode 3.2 (A.1), and apply the bidi rules (D.1, D.2). Like PostgreSQL, these
 *    checks look at the mapped text before NFKC, and the NFKC form is what is returned.
 * Returns 0 with the prepared password in out[0..cap), NUL-terminated; -EILSEQ (not valid
 * UTF-8) or -EPERM (refused by a rule above), out then undefined; -ENOSPC if cap is too
 * small (SASLPREP_CAP(strlen(in)) never is); -ENOMEM.
 */
int saslprep_strict(const char *in, char *out, size_t cap);

/*
 * What PostgreSQL feeds to SCRAM for the password in: saslprep_strict()'s result, or a copy
 * of in when that is -EILSEQ or -EPERM (the server and libpq fall back to the raw bytes).
 * Returns 0 with out[0..cap) NUL-terminated, -ENOSPC (cap too small, see SASLPREP_CAP) or
 * -ENOMEM.
 */
int saslprep(const char *in, char *out, size_t cap);

#endif
