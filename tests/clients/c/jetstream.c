/* nats.c (the official C client) managing a JetStream stream on the server at argv[1]: add, update,
 * info, publish with acks (dedupe by MsgId, expected last sequence), get / get last, delete a message,
 * purge (filtered, keep, all), delete the stream. Prints one line per step with what the server
 * answered (status, JetStream error code, ack, state) and no times, so the output of nats-server and
 * natsx can be compared line by line; exits non-zero only if the client itself cannot run. */
#include <nats/nats.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static jsCtx *js = NULL;

static void status(const char *step, natsStatus s, jsErrCode code) {
    printf("%s: %s err_code=%d", step, natsStatus_GetText(s), (int) code);
    if (s == NATS_ERR) printf(" (%s)", nats_GetLastError(NULL));   /* the server's description; stale for other statuses */
    printf("\n");
}

static void state(const char *step, jsStreamInfo *si) {
    jsStreamState *st = &si->State;
    printf("%s: name=%s subjects=%d max_msgs=%" PRId64 " desc=%s msgs=%" PRIu64 " bytes=%" PRIu64
           " first=%" PRIu64 " last=%" PRIu64 " num_subjects=%" PRId64 " num_deleted=%" PRIu64 "\n",
           step, si->Config->Name, si->Config->SubjectsLen, si->Config->MaxMsgs,
           si->Config->Description ? si->Config->Description : "-", st->Msgs, st->Bytes, st->FirstSeq,
           st->LastSeq, st->NumSubjects, st->NumDeleted);
}

static void info(const char *step) {
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    natsStatus s = js_GetStreamInfo(&si, js, "CS", NULL, &code);
    if (s != NATS_OK) { status(step, s, code); return; }
    state(step, si);
    jsStreamInfo_Destroy(si);
}

static void publish(const char *step, const char *subj, const char *data, const char *msg_id,
                    uint64_t expect_last_seq) {
    jsPubOptions po;
    jsPubAck *pa = NULL;
    jsErrCode code = 0;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    po.ExpectLastSeq = expect_last_seq;
    natsStatus s = js_Publish(&pa, js, subj, data, (int) strlen(data), &po, &code);
    if (s != NATS_OK) { status(step, s, code); return; }
    printf("%s: stream=%s seq=%" PRIu64 " duplicate=%d\n", step, pa->Stream, pa->Sequence, pa->Duplicate);
    jsPubAck_Destroy(pa);
}

static void show_msg(const char *step, natsStatus s, jsErrCode code, natsMsg *m) {
    if (s != NATS_OK) { status(step, s, code); return; }
    printf("%s: subject=%s seq=%" PRIu64 " data=%.*s\n", step, natsMsg_GetSubject(m), natsMsg_GetSequence(m),
           natsMsg_GetDataLength(m), natsMsg_GetData(m));
    natsMsg_Destroy(m);
}

static void get(const char *step, uint64_t seq) {
    natsMsg *m = NULL;
    jsErrCode code = 0;
    natsStatus s = js_GetMsg(&m, js, "CS", seq, NULL, &code);
    show_msg(step, s, code, m);
}

static void get_last(const char *step, const char *subject) {
    natsMsg *m = NULL;
    jsErrCode code = 0;
    natsStatus s = js_GetLastMsg(&m, js, "CS", subject, NULL, &code);
    show_msg(step, s, code, m);
}

static void purge(const char *step, const char *subject, uint64_t seq, uint64_t keep) {
    jsOptions o;
    jsErrCode code = 0;
    jsOptions_Init(&o);
    o.Stream.Purge.Subject = subject;
    o.Stream.Purge.Sequence = seq;
    o.Stream.Purge.Keep = keep;
    status(step, js_PurgeStream(js, "CS", &o, &code), code);
    info(step);
}

int main(int argc, char **argv) {
    natsConnection *nc = NULL;
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    natsStatus s;
    const char *subjects[] = {"cs.>"};
    const char *two_subjects[] = {"cs.>", "other.cs"};
    char data[16];
    int i;

    if (natsConnection_ConnectTo(&nc, argv[1]) != NATS_OK || natsConnection_JetStream(&js, nc, NULL) != NATS_OK) {
        fprintf(stderr, "connect: %s\n", nats_GetLastError(NULL));
        return 1;
    }

    jsStreamConfig_Init(&cfg);
    cfg.Name = "CS";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    s = js_AddStream(&si, js, &cfg, NULL, &code);
    if (s == NATS_OK) { state("add", si); jsStreamInfo_Destroy(si); si = NULL; } else status("add", s, code);
    cfg.MaxMsgs = 1;   /* same name, other config: "stream name already in use" */
    s = js_AddStream(&si, js, &cfg, NULL, &code);
    status("add again with another config", s, code);
    cfg.MaxMsgs = -1;

    cfg.Description = "updated by nats.c";
    cfg.Subjects = two_subjects;
    cfg.SubjectsLen = 2;
    s = js_UpdateStream(&si, js, &cfg, NULL, &code);
    if (s == NATS_OK) { state("update", si); jsStreamInfo_Destroy(si); si = NULL; } else status("update", s, code);
    cfg.Storage = js_MemoryStorage;   /* storage may not change */
    status("update storage", js_UpdateStream(&si, js, &cfg, NULL, &code), code);
    code = 0;
    s = js_GetStreamInfo(&si, js, "NOPE", NULL, &code);
    status("info of a missing stream", s, code);

    publish("publish 1", "cs.a", "one", "id-1", 0);
    publish("publish same id", "cs.a", "one again", "id-1", 0);
    publish("publish 2", "cs.b", "two", "id-2", 0);
    publish("publish expecting last 2", "cs.a", "three", NULL, 2);
    publish("publish expecting last 1", "cs.a", "four", NULL, 1);
    publish("publish to other.cs", "other.cs", "five", NULL, 0);
    for (i = 0; i < 5; i++) {
        snprintf(data, sizeof data, "c%d", i);
        publish("publish to cs.c", "cs.c", data, NULL, 0);
    }
    info("after publishing");

    get("get 1", 1);
    get("get 3", 3);
    get("get 99", 99);
    get_last("get last cs.a", "cs.a");
    get_last("get last cs.c", "cs.c");
    get_last("get last cs.none", "cs.none");

    code = 0;
    status("delete msg 2", js_DeleteMsg(js, "CS", 2, NULL, &code), code);
    code = 0;
    status("delete msg 2 again", js_DeleteMsg(js, "CS", 2, NULL, &code), code);
    get("get deleted 2", 2);
    info("after delete");

    purge("purge cs.c keep 2", "cs.c", 0, 2);
    purge("purge below seq 4", NULL, 4, 0);
    purge("purge other.cs", "other.cs", 0, 0);
    publish("publish after purges", "cs.a", "six", NULL, 0);
    purge("purge all", NULL, 0, 0);
    publish("publish after purge all", "cs.z", "seven", NULL, 0);
    get_last("get last cs.z", "cs.z");

    code = 0;
    status("delete stream", js_DeleteStream(js, "CS", NULL, &code), code);
    code = 0;
    status("delete stream again", js_DeleteStream(js, "CS", NULL, &code), code);
    info("info after delete");
    publish("publish without stream", "cs.a", "eight", NULL, 0);

    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return 0;
}
