// SessionKey: where `apimeter serve` gets the secret that signs session
// cookies (server/auth.h). It is never derived from anything public (the
// token hashes are public: they sit in the config and check-config prints
// them), so nobody can mint a cookie without this secret. In order:
//   1. server.session_secret, when the operator sets one (shared by every
//      serve instance that should accept the same cookies);
//   2. else <state_dir>/session.key (agent.state_dir; the package sets
//      /var/lib/apimeter): 32 random bytes, hex, created at the first start
//      with mode 0600 (the package's postinst creates it too), so sign-ins
//      survive restarts. An existing file is used only if it is a regular
//      file (not a symlink), owned by this user, readable by nobody else and
//      holds exactly one key, and only if its directory is not writable by
//      other users; otherwise serve refuses to start, saying how to fix it.
//      Deleting the file and restarting rotates the key (signs everyone out).
//   3. else a random key made at start and kept only in memory: restarting
//      serve signs everyone out. serve logs which one it uses.
// Thread-safety: stateless functions; the file is created atomically (a
// private temporary file hard-linked into place), so two instances starting
// at once end up with the same key.
#pragma once

#include <string>

#include "common/result.h"

namespace apimeter {

inline constexpr char kSessionKeyFileName[] = "session.key";

struct SessionKey {
  std::string key;     // the HMAC key (secret)
  std::string source;  // for the log: where it came from; never the key itself
};

// 32 bytes from the system's random source, as 64 lower-case hex digits.
Result<std::string> RandomSessionKey();

// The key in `path`, created first if it does not exist (see above).
// InvalidArgument when the file or its directory is unsafe or the file is
// not a key; Unavailable when it cannot be read or written.
Result<std::string> LoadOrCreateSessionKeyFile(const std::string& path);

// Steps 1–3 above; state_dir may be empty.
Result<SessionKey> ResolveSessionKey(const std::string& session_secret,
                                     const std::string& state_dir);

}  // namespace apimeter
