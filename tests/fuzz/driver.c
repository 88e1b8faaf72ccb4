/* A main() for the fuzz harnesses without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on each file named on the command line (a
 * directory: on each regular file in it, not recursively), so that any
 * compiler can replay a crash or the corpus:
 *
 *   cc -g -Ilib tests/fuzz/fuzz_proto.c tests/fuzz/driver.c build/librbd.a \
 *       $(pkg-config --libs yaml-0.1 jansson libcurl) -lm -o /tmp/replay
 *   /tmp/replay crash-0123abcd tests/fuzz/corpus/proto
 *
 * Each input is read into a buffer of exactly its size, as libFuzzer
 * passes it, so that a read past its end is still caught by ASan or
 * valgrind. Exits 1 if a file cannot be read; a finding aborts. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run the harness on the file at path; -errno if it cannot be read. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0;
	long size;
	int r = 0;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		r = -errno;
		goto out;
	}
	len = (size_t)size;
	/* malloc(0) may return NULL: keep one byte then, passed as size 0. */
	buf = malloc(len ? len : 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	if (len && fread(buf, 1, len, f) != len) {
		r = -EIO;
		goto out;
	}
	LLVMFuzzerTestOneInput(buf, len);
out:
	free(buf);
	fclose(f);
	return r;
}

/* Run path, or every regular file in it when it is a directory. */
static int run_path(const char *path, unsigned *n)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		(*n)++;
		return run_file(path);
	}
	if (!(d = opendir(path)))
		return -errno;
	while (r == 0 && (de = readdir(d)) != NULL) {
		char sub[4096];

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >=
		    (int)sizeof(sub)) {
			r = -ENAMETOOLONG;
			break;
		}
		if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
			(*n)++;
			r = run_file(sub);
		}
	}
	closedir(d);
	return r;
}

int main(int argc, char **argv)
{
	unsigned n = 0;

	for (int i = 1; i < argc; i++) {
		int r = run_path(argv[i], &n);

		if (r < 0) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], argv[i],
			    strerror(-r));
			return 1;
		}
	}
	fprintf(stderr, "%s: %u inputs ran\n", argv[0], n);
	return 0;
}
