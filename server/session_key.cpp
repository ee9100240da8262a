// The session-signing key (see session_key.h).
#include "server/session_key.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace apimeter {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kKeyHexDigits = 2 * kKeyBytes;

std::string Errno() { return std::strerror(errno); }

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool IsKeyText(const std::string& text) {
  if (text.size() != kKeyHexDigits) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Closes a descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The key's directory must not let another user swap the file.
Status CheckDirectory(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return Status::Unavailable("session key '" + path + "': directory '" + dir + "': " + Errno() +
                               "; create it (agent.state_dir) or set server.session_secret");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("session key '" + path + "': '" + dir + "' is not a directory");
  }
  if ((st.st_uid != ::geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::InvalidArgument(
        "session key '" + path + "': its directory '" + dir + "' (mode " + Octal(st.st_mode) +
        ", owner uid " + std::to_string(st.st_uid) +
        ") lets other users replace the session key; make it owned by the user serve runs as "
        "and writable by it alone (chmod 750)");
  }
  return Status::Ok();
}

// Writes a new key to a private temporary file and links it to `path`;
// a file that appeared meanwhile (another instance) is kept.
Status CreateKeyFile(const std::string& path) {
  APIMETER_ASSIGN_OR_RETURN(std::string key, RandomSessionKey());
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());  // a leftover of a crashed start
  Status st = Status::Ok();
  {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (f.fd < 0) return Status::Unavailable("cannot create session key '" + tmp + "': " + Errno());
    const std::string text = key + "\n";
    if (::fchmod(f.fd, 0600) != 0 ||
        ::write(f.fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(f.fd) != 0) {
      st = Status::Unavailable("cannot write session key '" + tmp + "': " + Errno());
    }
  }
  if (st.ok() && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    st = Status::Unavailable("cannot create session key '" + path + "': " + Errno());
  }
  ::unlink(tmp.c_str());
  return st;
}

Result<std::string> ReadKeyFile(const std::string& path) {
  // O_NOFOLLOW: a symlink is refused (ELOOP); O_NONBLOCK: a FIFO never hangs.
  Fd f{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ELOOP) {
      return Status::InvalidArgument("session key '" + path +
                                     "' is a symbolic link; replace it with the file itself");
    }
    return Status::Unavailable("cannot read session key '" + path + "': " + Errno());
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    return Status::Unavailable("cannot read session key '" + path + "': " + Errno());
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("session key '" + path + "' is not a regular file");
  }
  if (st.st_uid != ::geteuid()) {
    return Status::InvalidArgument("session key '" + path + "' is owned by uid " +
                                   std::to_string(st.st_uid) + ", not by the user serve runs as (" +
                                   std::to_string(::geteuid()) + "); chown it to that user");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument("session key '" + path + "' has mode " + Octal(st.st_mode) +
                                   ", so other users can read it; run chmod 600 '" + path +
                                   "' (or delete it and restart to make a new key, which signs "
                                   "everyone out)");
  }
  char buf[kKeyHexDigits + 2];
  const ssize_t n = ::read(f.fd, buf, sizeof buf);
  if (n < 0) return Status::Unavailable("cannot read session key '" + path + "': " + Errno());
  std::string text(buf, static_cast<size_t>(n));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!IsKeyText(text)) {
    return Status::InvalidArgument("session key '" + path +
                                   "' does not hold one key (64 hex "
                                   "digits); delete it and restart to make a new one");
  }
  return text;
}

}  // namespace

Result<std::string> RandomSessionKey() {
  unsigned char bytes[kKeyBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Status::Internal("the system random source failed; cannot make a session key");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(kKeyHexDigits, '0');
  for (size_t i = 0; i < kKeyBytes; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

Result<std::string> LoadOrCreateSessionKeyFile(const std::string& path) {
  APIMETER_RETURN_IF_ERROR(CheckDirectory(path));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return Status::Unavailable("cannot read session key '" + path + "': " + Errno());
    }
    APIMETER_RETURN_IF_ERROR(CreateKeyFile(path));
  }
  return ReadKeyFile(path);
}

Result<SessionKey> ResolveSessionKey(const std::string& session_secret,
                                     const std::string& state_dir) {
  if (!session_secret.empty()) return SessionKey{session_secret, "server.session_secret"};
  if (!state_dir.empty()) {
    const std::string path = (std::filesystem::path(state_dir) / kSessionKeyFileName).string();
    APIMETER_ASSIGN_OR_RETURN(std::string key, LoadOrCreateSessionKeyFile(path));
    return SessionKey{std::move(key), path};
  }
  APIMETER_ASSIGN_OR_RETURN(std::string key, RandomSessionKey());
  return SessionKey{std::move(key), "a per-process key (no agent.state_dir)"};
}

}  // namespace apimeter
