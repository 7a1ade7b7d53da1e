/* nats.c (the official C client) against the server at argv[1]: pub/sub with a wildcard, headers,
 * request/reply, no responders, queue groups. Prints "ok N" and exits 0, or names the failed check. */
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>

static int checks = 0;
#define CHECK(cond, what) do { if (!(cond)) { fprintf(stderr, "failed: %s\n", what); return 1; } checks++; } while (0)

static void echo(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    char buf[256];
    snprintf(buf, sizeof buf, "echo:%.*s", natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
    natsConnection_PublishString(nc, natsMsg_GetReply(msg), buf);
    natsMsg_Destroy(msg);
}

int main(int argc, char **argv) {
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL, *svc = NULL, *q[3] = {NULL, NULL, NULL};
    natsMsg *msg = NULL, *reply = NULL;
    const char *val = NULL;
    int i, total = 0, failed = 0;

    CHECK(natsConnection_ConnectTo(&nc, argv[1]) == NATS_OK, "connect");

    CHECK(natsConnection_SubscribeSync(&sub, nc, "c.*.x") == NATS_OK, "subscribe");
    CHECK(natsMsg_Create(&msg, "c.a.x", NULL, "hello", 5) == NATS_OK, "msg create");
    CHECK(natsMsgHeader_Set(msg, "K", "v1") == NATS_OK, "header set");
    CHECK(natsConnection_PublishMsg(nc, msg) == NATS_OK, "publish");
    natsMsg_Destroy(msg);
    msg = NULL;
    CHECK(natsSubscription_NextMsg(&msg, sub, 2000) == NATS_OK, "wildcard delivery");
    CHECK(strcmp(natsMsg_GetSubject(msg), "c.a.x") == 0 && natsMsg_GetDataLength(msg) == 5, "subject/data");
    CHECK(natsMsgHeader_Get(msg, "K", &val) == NATS_OK && strcmp(val, "v1") == 0, "headers");
    natsMsg_Destroy(msg);

    CHECK(natsConnection_Subscribe(&svc, nc, "svc.echo", echo, NULL) == NATS_OK, "service");
    CHECK(natsConnection_RequestString(&reply, nc, "svc.echo", "hi", 2000) == NATS_OK, "request");
    CHECK(natsMsg_GetDataLength(reply) == 7 && memcmp(natsMsg_GetData(reply), "echo:hi", 7) == 0, "reply");
    natsMsg_Destroy(reply);
    reply = NULL;
    CHECK(natsConnection_RequestString(&reply, nc, "nobody.home", "x", 2000) == NATS_NO_RESPONDERS, "no responders");

    for (i = 0; i < 3; i++)
        CHECK(natsConnection_QueueSubscribeSync(&q[i], nc, "work", "grp") == NATS_OK, "queue subscribe");
    for (i = 0; i < 300; i++)
        failed += natsConnection_PublishString(nc, "work", "w") != NATS_OK;
    CHECK(failed == 0, "queue publish");
    CHECK(natsConnection_Flush(nc) == NATS_OK, "flush");
    for (i = 0; i < 3; i++) {
        natsMsg *m = NULL;
        int got = 0;
        while (natsSubscription_NextMsg(&m, q[i], 300) == NATS_OK) { got++; natsMsg_Destroy(m); }
        CHECK(got > 0, "queue spread");
        total += got;
    }
    CHECK(total == 300, "queue group: each message to exactly one member");

    for (i = 0; i < 3; i++) natsSubscription_Destroy(q[i]);
    natsSubscription_Destroy(svc);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    nats_Close();
    printf("ok %d\n", checks);
    return 0;
}
