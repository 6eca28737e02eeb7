// tsvirt's file-descriptor passing (SCM_RIGHTS) over unix sockets: what Node's net module
// cannot do. Three functions, all non-blocking, errors as thrown Error objects carrying
// `code` (the errno name) and `errno`:
//   socketpair()                       -> [fd0, fd1]   (AF_UNIX stream pair, close-on-exec)
//   sendFds(sockFd, data, [fds])       -> bytes sent    (one sendmsg; data must not be empty)
//   recvFds(sockFd, maxBytes)          -> { data, fds } or null when nothing is waiting
//                                         (EAGAIN); empty data means the peer closed
// The callers (src/core/fdpass.ts) own the descriptors they get and close them.
#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr int kMaxFds = 32;  // libvirt's VIR_NET_MESSAGE_NUM_FDS_MAX

napi_value ThrowErrno(napi_env env, int err, const char* what) {
  napi_value msg, code, error, num;
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  const char* name = err == EAGAIN ? "EAGAIN" : err == EBADF ? "EBADF" : err == EPIPE ? "EPIPE"
                   : err == ENOTSOCK ? "ENOTSOCK" : err == ECONNRESET ? "ECONNRESET" : err == EINVAL ? "EINVAL"
                   : err == EMFILE ? "EMFILE" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return nullptr;
}

bool ArgInt(napi_env env, napi_value v, int32_t* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return false;
  return napi_get_value_int32(env, v, out) == napi_ok;
}

napi_value SocketPair(napi_env env, napi_callback_info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return ThrowErrno(env, errno, "socketpair");
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, sv[0], &a);
  napi_create_int32(env, sv[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

napi_value SendFds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t sock;
  bool isBuf = false, isArr = false;
  if (argc < 3 || !ArgInt(env, argv[0], &sock)) {
    napi_throw_type_error(env, nullptr, "sendFds(sockFd, data, fds)");
    return nullptr;
  }
  napi_is_buffer(env, argv[1], &isBuf);
  napi_is_array(env, argv[2], &isArr);
  if (!isBuf || !isArr) {
    napi_throw_type_error(env, nullptr, "sendFds(sockFd, data, fds)");
    return nullptr;
  }
  void* data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  uint32_t nfds;
  napi_get_array_length(env, argv[2], &nfds);
  if (len == 0 || nfds > kMaxFds) {
    napi_throw_range_error(env, nullptr, "sendFds: data must not be empty and at most 32 fds go at once");
    return nullptr;
  }
  std::vector<int> fds(nfds);
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value e;
    napi_get_element(env, argv[2], i, &e);
    if (!ArgInt(env, e, &fds[i]) || fds[i] < 0) {
      napi_throw_type_error(env, nullptr, "sendFds: fds must be non-negative integers");
      return nullptr;
    }
  }
  struct iovec iov = {data, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (nfds > 0) {
    control.assign(CMSG_SPACE(sizeof(int) * nfds), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * nfds);
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, errno, "sendmsg");
  napi_value out;
  napi_create_int64(env, n, &out);
  return out;
}

napi_value RecvFds(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t sock, max;
  if (argc < 2 || !ArgInt(env, argv[0], &sock) || !ArgInt(env, argv[1], &max) || max <= 0) {
    napi_throw_type_error(env, nullptr, "recvFds(sockFd, maxBytes)");
    return nullptr;
  }
  std::vector<char> buf(max);
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds));
  struct iovec iov = {buf.data(), buf.size()};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return ThrowErrno(env, errno, "recvmsg");
  }
  napi_value result, data, fds;
  napi_create_object(env, &result);
  napi_create_buffer_copy(env, n, buf.data(), nullptr, &data);
  napi_create_array(env, &fds);
  uint32_t count = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int* got = reinterpret_cast<int*>(CMSG_DATA(c));
    for (size_t i = 0; i < k; i++) {
      napi_value v;
      napi_create_int32(env, got[i], &v);
      napi_set_element(env, fds, count++, v);
    }
  }
  napi_value truncated;
  napi_get_boolean(env, (msg.msg_flags & MSG_CTRUNC) != 0, &truncated);
  napi_set_named_property(env, result, "data", data);
  napi_set_named_property(env, result, "fds", fds);
  napi_set_named_property(env, result, "truncated", truncated);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"socketpair", nullptr, SocketPair, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sendFds", nullptr, SendFds, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"recvFds", nullptr, RecvFds, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
