/* Remedies: one-shot HTTP requests on the event loop; see remedy_http.h.
 *
 * The hiperfifo pattern, as in probe_http.c: curl tells us which sockets
 * to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION); libevent tells curl what happened
 * (curl_multi_socket_action), and curl_multi_info_read hands back the
 * finished transfers. Callbacks run only from check_done(), off curl's
 * stack, once the easy handle is out of the multi handle. Remedies are
 * rare (a few per incident), so there is no pool: one easy handle per
 * request, cleaned up with it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "clock.h"
#include "duration.h"
#include "remedy_http.h"

#define USER_AGENT	"rollbackd"
#define DETAIL_MAX	256

/* A socket curl asked us to watch. */
struct sock {
	struct event *ev;
	curl_socket_t fd;
	short kind;
};

struct rbd_remedy_req {
	struct rbd_remedy_http_client *c;
	struct rbd_remedy_req *prev, *next;	/* in flight */
	CURL *easy;
	struct curl_slist *headers;
	char *url, *body;
	uint64_t timeout_usec;
	rbd_remedy_http_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
};

struct rbd_remedy_http_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct rbd_remedy_req *reqs;
};

/* Take req out of the multi handle and the list, and free it. */
static void req_free(struct rbd_remedy_req *req)
{
	struct rbd_remedy_http_client *c = req->c;

	if (req->easy) {
		(void)curl_multi_remove_handle(c->multi, req->easy);
		curl_easy_cleanup(req->easy);
	}
	if (req->prev)
		req->prev->next = req->next;
	else if (c->reqs == req)
		c->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	curl_slist_free_all(req->headers);
	free(req->url);
	free(req->body);
	free(req);
}

/* A finished transfer in words, and whether it succeeded (any 2xx). */
static enum rbd_deploy_result describe(struct rbd_remedy_req *req,
    CURLcode code, char *buf, size_t len)
{
	char d[RBD_DURATION_STR_MAX];
	long status = 0, os_errno = 0;

	if (code == CURLE_OK) {
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status <= 299) {
			snprintf(buf, len, "HTTP %ld", status);
			return RBD_DEPLOY_OK;
		}
		snprintf(buf, len, "HTTP %ld (expected 2xx)", status);
		return RBD_DEPLOY_FAILED;
	}
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(buf, len, "timed out after %s",
		    rbd_duration_str(req->timeout_usec, d, sizeof(d)));
		return RBD_DEPLOY_TIMED_OUT;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(req->easy, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == ECONNREFUSED)
			snprintf(buf, len, "connection refused");
		else if (os_errno > 0 && os_errno < INT_MAX)
			snprintf(buf, len, "could not connect: %s",
			    strerror((int)os_errno));
		else
			snprintf(buf, len, "could not connect");
		break;
	default:
		snprintf(buf, len, "%.200s", req->errbuf[0] ? req->errbuf :
		    curl_easy_strerror(code));
	}
	return RBD_DEPLOY_FAILED;
}

/* Hand every finished transfer to its callback, then free it. */
static void check_done(struct rbd_remedy_http_client *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct rbd_remedy_req *req = NULL;
		char detail[DETAIL_MAX];
		enum rbd_deploy_result r;
		CURLcode code = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&req);
		if (!req)
			continue;
		r = describe(req, code, detail, sizeof(detail));
		/* Out of the multi before the callback: it may start or
		 * cancel requests. */
		(void)curl_multi_remove_handle(c->multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		req->cb(req->arg, r, detail);
		req_free(req);
	}
}

/* libevent saw activity on a socket of curl's: tell curl. */
static void sock_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct rbd_remedy_http_client *c = arg;
	int action = (kind & EV_READ ? CURL_CSELECT_IN : 0) |
	    (kind & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;

	(void)curl_multi_socket_action(c->multi, fd, action, &running);
	check_done(c);
}

/* CURLMOPT_SOCKETFUNCTION: what curl wants watched on socket s. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct rbd_remedy_http_client *c = userp;
	struct sock *sk = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			event_free(sk->ev);
			free(sk);
			(void)curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	if (!sk) {
		sk = calloc(1, sizeof(*sk));
		if (!sk || curl_multi_assign(c->multi, s, sk) != CURLM_OK) {
			free(sk);
			return -1;
		}
		sk->fd = -1;
	}
	kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0));
	if (sk->ev && sk->kind == kind && sk->fd == s)
		return 0;
	if (sk->ev)
		event_free(sk->ev);
	sk->ev = event_new(c->base, s, kind | EV_PERSIST, sock_event_cb, c);
	sk->fd = s;
	sk->kind = kind;
	return sk->ev && event_add(sk->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: (re)arm or cancel curl's one timer; a 0
 * timeout fires from the loop, never from here. */
static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct rbd_remedy_http_client *c = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	tv = rbd_usec_tv((uint64_t)timeout_ms * RBD_USEC_PER_MSEC);
	return evtimer_add(c->timer, &tv) < 0 ? -1 : 0;
}

/* curl's timer expired: let it run its timeouts. */
static void timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct rbd_remedy_http_client *c = arg;
	int running;

	(void)fd;
	(void)kind;
	(void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	check_done(c);
}

/* CURLOPT_WRITEFUNCTION: the response body is not needed. */
static size_t discard_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

struct rbd_remedy_http_client *rbd_remedy_http_new(struct event_base *base)
{
	struct rbd_remedy_http_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base = base;
	c->multi = curl_multi_init();
	c->timer = evtimer_new(base, timer_cb, c);
	if (!c->multi || !c->timer ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, (void *)c) ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION,
	    multi_timer_cb) ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, (void *)c)) {
		rbd_remedy_http_free(c);
		return NULL;
	}
	return c;
}

void rbd_remedy_http_free(struct rbd_remedy_http_client *c)
{
	if (!c)
		return;
	while (c->reqs)
		req_free(c->reqs);
	if (c->multi)
		curl_multi_cleanup(c->multi);	/* closes sockets via sock_cb */
	if (c->timer)
		event_free(c->timer);
	free(c);
}

/* Only http and https (as probe_http.c, for an older libcurl too). */
static CURLcode set_protocols(CURL *e)
{
#if LIBCURL_VERSION_NUM >= 0x075500
	CURLcode c = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");

	if (c != CURLE_UNKNOWN_OPTION)
		return c;
#endif
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	return curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
}

/* Set req's easy handle up for h; returns whether every option took. */
static bool req_setup(struct rbd_remedy_req *req, const char *method)
{
	CURL *e = req->easy;
	long ms = (long)(req->timeout_usec / RBD_USEC_PER_MSEC);

	if (curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)req) ||
	    curl_easy_setopt(e, CURLOPT_URL, req->url) ||
	    set_protocols(e) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L) ||
	    curl_easy_setopt(e, CURLOPT_PROXY, "") ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb) ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers))
		return false;
	if (req->body && (curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(req->body))))
		return false;
	if (strcmp(method, "GET") == 0 && !req->body)
		return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	if (strcmp(method, "POST") == 0 && !req->body &&
	    (curl_easy_setopt(e, CURLOPT_POSTFIELDS, "") ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0)))
		return false;
	return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
}

int rbd_remedy_http_start(struct rbd_remedy_http_client *c,
    const struct rbd_remedy_http *h, uint64_t timeout_usec,
    rbd_remedy_http_cb cb, void *arg, struct rbd_remedy_req **ret)
{
	struct rbd_remedy_req *req;
	const char *method = h->method ? h->method : "POST";

	if (!c || !h->url || !cb || !timeout_usec)
		return -EINVAL;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->c = c;
	req->cb = cb;
	req->arg = arg;
	req->timeout_usec = timeout_usec;
	req->url = strdup(h->url);
	req->body = h->body ? strdup(h->body) : NULL;
	req->easy = curl_easy_init();
	for (size_t i = 0; i < h->n_headers; i++) {
		struct curl_slist *l = curl_slist_append(req->headers,
		    h->headers[i]);

		if (!l)
			goto nomem;
		req->headers = l;
	}
	if (!req->url || (h->body && !req->body) || !req->easy)
		goto nomem;
	req->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = req;
	c->reqs = req;
	if (!req_setup(req, method)) {
		req_free(req);
		return -EINVAL;
	}
	if (curl_multi_add_handle(c->multi, req->easy) != CURLM_OK) {
		req_free(req);
		return -ENOMEM;
	}
	if (ret)
		*ret = req;
	return 0;
nomem:
	if (req->easy)
		curl_easy_cleanup(req->easy);
	req->easy = NULL;
	curl_slist_free_all(req->headers);
	free(req->url);
	free(req->body);
	free(req);
	return -ENOMEM;
}

void rbd_remedy_http_cancel(struct rbd_remedy_req *req)
{
	if (req)
		req_free(req);
}
