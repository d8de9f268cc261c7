/*
 * Random identifiers: the ids of Engine.IO sessions and Socket.IO sockets, from the kernel's
 * random pool.
 */
#ifndef PL_RAND_H
#define PL_RAND_H

/* Characters written by pl_random_id, not counting the NUL. */
#define PL_RANDOM_ID_LEN 20

/* Writes PL_RANDOM_ID_LEN random base64url characters and a NUL to out. */
void pl_random_id(char *out);

#endif
