// SPDX-License-Identifier: MIT
/// \file
/// `file_watch`: re-reads one file whenever it changes, for hot-reloading a
/// rollout policy file. POSIX only (Linux, the BSDs, macOS).
///
/// ## Contract
///
/// - The constructor reads the file and calls the callback with its
///   contents, or with the error that prevented reading it, synchronously on
///   the constructing thread: the caller starts with a value or a clear
///   error. Then one background thread watches the file until stop() or the
///   destructor; every later call of the callback is on that thread.
/// - A delivery (`file_contents`) holds the file's whole contents, read with
///   one open, a read loop and fstat of the opened descriptor (so the bytes
///   and the identity belong to the same file), or an error naming the path
///   and the reason: a missing file, a permission, a read error, a file that
///   is not a regular file, a file larger than `max_bytes` (never read: no
///   allocation beyond the limit).
/// - Dedupe: a read whose result equals the last delivery (the same bytes,
///   or the same error) is not delivered, whatever its identity: `touch`, a
///   byte-identical rewrite in place or by rename is counted in
///   `stats().unchanged` and not delivered. Changed bytes are delivered even
///   when the size and the mtime did not change (the bytes are compared, not
///   hashed). Sequence numbers count deliveries: 1 is the constructor's.
/// - A half-written file may be delivered (the caller's parser rejects it and
///   keeps its old value); the final state is always delivered eventually,
///   after the writer closes the file or renames it into place, or, for a
///   writer that never closes it, within about `poll_interval` of its last
///   write.
///
/// ## How it watches
///
/// Linux, `use_inotify` (the default): inotify on the file's *directory*,
/// so an atomic rename-over (`mv tmp policy.json`), a delete and re-create,
/// and an in-place write (`> policy.json`) are all seen. Events for the
/// file's name: IN_CLOSE_WRITE, IN_MOVED_TO, IN_MOVED_FROM, IN_DELETE and
/// IN_ATTRIB (and a queue overflow) read the file at once; IN_MODIFY and
/// IN_CREATE (a write in progress) read it within `poll_interval` (at most
/// one read per interval however many writes, so a long write is not re-read
/// after every chunk). After every read the file is read once more,
/// `poll_interval` later (the settle re-check), which catches a write that
/// raced the read. If the path is a symbolic link, every event in its
/// directory counts (a Kubernetes ConfigMap swaps a `..data` link next to
/// the file); a link to a file in another directory is seen changing only
/// when the link itself changes: use polling for that.
///
/// Polling (other systems, `use_inotify = false`, or when inotify cannot be
/// set up: no inotify instances left, the directory missing at start): every
/// `poll_interval`, stat the path and read the file when (device, inode,
/// size, mtime, ctime) changed, and once more at the next tick after each
/// read (the same settle re-check: a write within the timestamp granularity
/// of the filesystem changes nothing stat sees). If the watched directory is
/// removed or renamed, an inotify watch falls back to polling; `mode()` says
/// which is in use.
///
/// The thread sleeps in poll(2) on the inotify descriptor and an eventfd
/// (a pipe elsewhere) that stop() writes, so stop() and the destructor
/// return within milliseconds: they never wait for a poll interval, only
/// for a callback in progress.
///
/// ## Threads
///
/// The callback runs on the watcher thread (the first call on the
/// constructing thread); it may call stop() (which then only asks the thread
/// to end, after the callback returns), but must not destroy the file_watch.
/// An exception from a callback on the watcher thread is counted in
/// `stats().callback_errors` and the watch goes on; from the constructor's
/// call, it leaves the constructor (no thread is started). stats() and
/// mode() may be called from any thread.
///
/// Example:
/// \code
///   canarygate::file_watch watch("/etc/canary/policy.json",
///       [&](const canarygate::file_contents& file) {
///           if (!file.ok()) return log_error(file.error);  // keep the old policy
///           if (auto policy = parse_policy(file.bytes)) install(std::move(*policy));
///       });
/// \endcode
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/eventfd.h>
#include <sys/inotify.h>
#define CANARYGATE_FILE_WATCH_INOTIFY 1
#else
#define CANARYGATE_FILE_WATCH_INOTIFY 0
#endif

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Which file a read found: what fstat of the opened descriptor said (or,
/// while polling, what stat of the path said).
struct file_identity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;  ///< since the Unix epoch
    std::int64_t ctime_ns = 0;
    friend bool operator==(const file_identity&, const file_identity&) = default;
};

/// One delivery: the file's bytes, or why they could not be read.
struct file_contents {
    std::string bytes;  ///< the whole file ("" on error)
    /// "" when read; else a message naming the path and the reason, as
    /// "canarygate::file_watch: cannot open '/etc/canary/policy.json': No
    /// such file or directory".
    std::string error;
    /// errno of the call that failed (ENOENT, EACCES, EIO, ...); EFBIG for a
    /// file over max_bytes, EINVAL for one that is not a regular file; 0
    /// when read.
    int error_number = 0;
    /// The file read (zero when it could not be opened).
    file_identity identity;
    /// 1 for the constructor's delivery, then +1 per delivery.
    std::uint64_t sequence = 0;

    [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

/// How a file_watch learns of changes (see the file comment).
enum class file_watch_mode : std::uint8_t { inotify, polling };

[[nodiscard]] constexpr std::string_view name(file_watch_mode m) noexcept {
    return m == file_watch_mode::inotify ? "inotify" : "polling";
}

struct file_watch_options {
    /// Polling: the stat interval. inotify: the settle delay before the
    /// re-check after a read, and the longest wait before reading a file
    /// that is being written (IN_MODIFY). Must be > 0.
    std::chrono::milliseconds poll_interval{100};
    /// Use inotify where available (Linux); false polls.
    bool use_inotify = true;
    /// A larger file is an error delivery (EFBIG) naming the limit; it is
    /// never read. Must be > 0.
    std::size_t max_bytes = std::size_t{16} * 1024 * 1024;
};

/// Counts since construction.
struct file_watch_stats {
    std::uint64_t deliveries = 0;       ///< callback calls, errors included
    std::uint64_t reads = 0;            ///< read attempts, failed ones included
    std::uint64_t read_errors = 0;      ///< reads that ended in an error
    std::uint64_t unchanged = 0;        ///< reads equal to the last delivery (not delivered)
    std::uint64_t events = 0;           ///< inotify events for the file; stat changes when polling
    std::uint64_t callback_errors = 0;  ///< exceptions from the callback on the watcher thread
};

namespace detail {

/// The file_watch whose thread is the calling thread (nullptr elsewhere):
/// lets stop() know it is called from a callback, without reading the
/// std::thread that another thread may be joining.
inline const void*& file_watch_current_thread() noexcept {
    thread_local const void* current = nullptr;
    return current;
}

inline std::int64_t file_watch_ns(const struct timespec& t) noexcept {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 +
           static_cast<std::int64_t>(t.tv_nsec);
}

inline file_identity file_watch_identity(const struct stat& st) noexcept {
    file_identity id;
    id.device = static_cast<std::uint64_t>(st.st_dev);
    id.inode = static_cast<std::uint64_t>(st.st_ino);
    id.size = st.st_size < 0 ? 0 : static_cast<std::uint64_t>(st.st_size);
#if defined(__APPLE__)
    id.mtime_ns = file_watch_ns(st.st_mtimespec);
    id.ctime_ns = file_watch_ns(st.st_ctimespec);
#else
    id.mtime_ns = file_watch_ns(st.st_mtim);
    id.ctime_ns = file_watch_ns(st.st_ctim);
#endif
    return id;
}

/// A descriptor closed on destruction.
class file_watch_fd {
public:
    file_watch_fd() = default;
    explicit file_watch_fd(int fd) noexcept : fd_(fd) {}
    file_watch_fd(const file_watch_fd&) = delete;
    file_watch_fd& operator=(const file_watch_fd&) = delete;
    ~file_watch_fd() { reset(); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/// What stat of the path said, for polling: the identity, or the errno.
struct file_watch_stat {
    int error_number = 0;
    file_identity identity;
    friend bool operator==(const file_watch_stat&, const file_watch_stat&) = default;
};

inline file_watch_stat file_watch_stat_path(const std::string& path) noexcept {
    file_watch_stat s;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        s.error_number = errno;
    } else {
        s.identity = file_watch_identity(st);
    }
    return s;
}

/// Reads the whole file at `path` into `out` (bytes or error; identity;
/// sequence untouched): one open, fstat, a read loop bounded by `max_bytes`,
/// fstat again for the identity. Returns false when the file changed size
/// while it was read (the caller re-checks soon).
inline bool file_watch_read(const std::string& path, std::size_t max_bytes, file_contents& out) {
    out.bytes.clear();
    out.error.clear();
    out.error_number = 0;
    out.identity = file_identity{};
    const auto fail = [&](const char* what, int err) {
        out.bytes.clear();
        out.error_number = err;
        out.error = "canarygate::file_watch: cannot " + std::string(what) + " '" + path +
                    "': " + std::generic_category().message(err);
    };
    int fd = -1;
    do {
        // O_NONBLOCK: a FIFO at the path must not block the watcher (it is
        // refused below as not a regular file).
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        fail("open", errno);
        return true;
    }
    const file_watch_fd file(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        fail("stat", errno);
        return true;
    }
    out.identity = file_watch_identity(st);
    if (!S_ISREG(st.st_mode)) {
        fail("read", EINVAL);
        out.error += " (not a regular file)";
        return true;
    }
    if (out.identity.size > max_bytes) {
        fail("read", EFBIG);
        out.error += " (" + std::to_string(out.identity.size) + " bytes, over the limit of " +
                     std::to_string(max_bytes) + " bytes: file_watch_options::max_bytes)";
        return true;
    }
    // Room for the size fstat saw plus one byte, so a file that grew is
    // noticed without a second pass; never more than max_bytes + 1.
    std::size_t capacity = static_cast<std::size_t>(out.identity.size) + 1;
    std::size_t used = 0;
    for (;;) {
        if (used == capacity) {
            if (capacity > max_bytes) {  // read max_bytes + 1: over the limit
                fail("read", EFBIG);
                out.error += " (it grew over the limit of " + std::to_string(max_bytes) +
                             " bytes while read: file_watch_options::max_bytes)";
                return true;
            }
            capacity = capacity > max_bytes / 2 ? max_bytes + 1 : capacity * 2;
        }
        out.bytes.resize(capacity);
        const ::ssize_t n = ::read(fd, out.bytes.data() + used, capacity - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("read", errno);
            return true;
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    out.bytes.resize(used);
    if (::fstat(fd, &st) == 0) out.identity = file_watch_identity(st);
    return out.identity.size == used;
}

}  // namespace detail

/// Watches one file and calls a callback with its contents whenever they
/// change. See the file comment for the contract. Not copyable or movable
/// (its thread holds `this`).
class file_watch {
public:
    using callback_type = std::function<void(const file_contents&)>;

    /// Reads `path` and delivers it (on this thread), then starts watching.
    /// A relative path is made absolute against the current directory now.
    /// Throws std::invalid_argument for an empty path or one ending in a
    /// separator, an empty callback, poll_interval <= 0 or max_bytes == 0;
    /// whatever the first callback throws; std::system_error when no thread
    /// can be started.
    file_watch(const std::filesystem::path& path, callback_type on_change,
               file_watch_options options = {})
        : callback_(std::move(on_change)), options_(options) {
        validate(path);
        std::error_code ec;
        std::filesystem::path absolute = std::filesystem::absolute(path, ec);
        if (ec) absolute = path;
        path_ = absolute.string();
        directory_ = absolute.parent_path().string();
        if (directory_.empty()) directory_ = ".";
        file_name_ = absolute.filename().string();

        open_wake_channel();
        // Watch first, then read: a change between the two is seen twice
        // (the second read is deduped), never missed.
        bool inotify = false;
#if CANARYGATE_FILE_WATCH_INOTIFY
        if (options_.use_inotify) inotify = start_inotify();
#endif
        // relaxed: set before the thread starts (std::thread's constructor
        // orders it); later stores are the watcher thread's own.
        mode_.store(inotify ? file_watch_mode::inotify : file_watch_mode::polling,
                    std::memory_order_relaxed);
        if (!inotify) last_stat_ = detail::file_watch_stat_path(path_);
        read_and_deliver();  // an exception from the callback leaves here: no thread yet
        if (stopping_.load(std::memory_order_relaxed)) return;  // the callback called stop()
        thread_ = std::thread([this] { run(); });
    }

    file_watch(const file_watch&) = delete;
    file_watch& operator=(const file_watch&) = delete;
    file_watch(file_watch&&) = delete;
    file_watch& operator=(file_watch&&) = delete;

    /// stop(). Must not run on the watcher thread (in the callback).
    ~file_watch() { stop(); }

    /// Stops watching: no callback starts after it returns, and the thread
    /// has ended. Idempotent and thread-safe. Returns within milliseconds,
    /// or when a callback in progress returns. Called from the callback, it
    /// only asks the thread to end (after the callback returns).
    void stop() noexcept {
        // relaxed: the flag carries no data. The watcher also wakes from the
        // eventfd write (a system call it polls), and join() below orders
        // everything the thread did before whatever follows stop().
        if (!stopping_.exchange(true, std::memory_order_relaxed)) wake();
        if (detail::file_watch_current_thread() == this) return;  // in the callback
        const std::lock_guard lock(join_mutex_);
        if (thread_.joinable()) thread_.join();
    }

    /// inotify or polling; polling once an inotify watch was lost (the
    /// directory removed or renamed).
    [[nodiscard]] file_watch_mode mode() const noexcept {
        // relaxed: a report; nothing else is read on the strength of it.
        return mode_.load(std::memory_order_relaxed);
    }

    /// The counts so far. A caller that sees a count also sees every
    /// callback that ran before it was counted (see the counters).
    [[nodiscard]] file_watch_stats stats() const noexcept {
        file_watch_stats s;
        s.deliveries = deliveries_.load(std::memory_order_acquire);
        s.reads = reads_.load(std::memory_order_acquire);
        s.read_errors = read_errors_.load(std::memory_order_acquire);
        s.unchanged = unchanged_.load(std::memory_order_acquire);
        s.events = events_.load(std::memory_order_acquire);
        s.callback_errors = callback_errors_.load(std::memory_order_acquire);
        return s;
    }

    /// The absolute path watched.
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    using steady = std::chrono::steady_clock;

    void validate(const std::filesystem::path& path) const {
        constexpr const char* where = "canarygate::file_watch";
        if (path.empty())
            detail::throw_invalid_argument(std::string(where) + ": the path is empty");
        if (!path.has_filename())
            detail::throw_invalid_argument(std::string(where) + ": the path '" + path.string() +
                                           "' names a directory, not a file");
        if (!callback_)
            detail::throw_invalid_argument(std::string(where) + ": the callback is empty");
        if (options_.poll_interval <= std::chrono::milliseconds::zero())
            detail::throw_bad_field(where, "poll_interval (ms)", options_.poll_interval.count(),
                                    "must be > 0");
        if (options_.max_bytes == 0)
            detail::throw_bad_field(where, "max_bytes", options_.max_bytes, "must be > 0");
    }

    /// The descriptor stop() writes to wake the thread: an eventfd on
    /// Linux, else a pipe. Without one stop() could not be prompt: an error.
    void open_wake_channel() {
#if CANARYGATE_FILE_WATCH_INOTIFY
        wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (wake_.valid()) return;
#endif
        int pipe_fds[2] = {-1, -1};
        if (::pipe(pipe_fds) != 0)
            detail::raise(std::system_error(errno, std::generic_category(),
                                            "canarygate::file_watch: cannot create a pipe"));
        wake_.reset(pipe_fds[0]);
        wake_write_.reset(pipe_fds[1]);
        for (const int fd : pipe_fds) {
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
            ::fcntl(fd, F_SETFL, O_NONBLOCK);
        }
    }

    void wake() noexcept {
        if (wake_write_.valid()) {  // a pipe
            const char one = 1;
            [[maybe_unused]] const ::ssize_t n = ::write(wake_write_.get(), &one, sizeof one);
        } else {  // an eventfd
            const std::uint64_t one = 1;
            [[maybe_unused]] const ::ssize_t n = ::write(wake_.get(), &one, sizeof one);
        }
    }

#if CANARYGATE_FILE_WATCH_INOTIFY
    /// Sets up the directory watch; false (polling) when it cannot be.
    bool start_inotify() noexcept {
        inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!inotify_.valid()) {
            inotify_.reset();
            return false;
        }
        constexpr std::uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                       IN_MOVED_FROM | IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF |
                                       IN_MOVE_SELF | IN_ONLYDIR;
        watch_descriptor_ = ::inotify_add_watch(inotify_.get(), directory_.c_str(), mask);
        if (watch_descriptor_ < 0) {
            inotify_.reset();
            return false;
        }
        struct stat st {};
        any_name_ = ::lstat(path_.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
        return true;
    }

    /// What a drained batch of inotify events asks for.
    struct inotify_batch {
        bool read_now = false;    // the file was closed, moved, deleted, ...
        bool read_later = false;  // a write in progress
        bool watch_lost = false;  // the directory went away: poll instead
    };

    inotify_batch drain_inotify() noexcept {
        inotify_batch batch;
        // Aligned for inotify_event; room for at least one event with the
        // longest name.
        alignas(
            struct inotify_event) char buffer[4096 + sizeof(struct inotify_event) + NAME_MAX + 1];
        for (;;) {
            const ::ssize_t n = ::read(inotify_.get(), buffer, sizeof buffer);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) batch.watch_lost = true;
                break;
            }
            if (n == 0) break;
            std::size_t offset = 0;
            const auto size = static_cast<std::size_t>(n);
            while (offset + sizeof(struct inotify_event) <= size) {
                struct inotify_event event {};
                std::memcpy(&event, buffer + offset, sizeof event);
                const char* event_name = buffer + offset + sizeof event;
                offset += sizeof event + event.len;
                if ((event.mask & IN_Q_OVERFLOW) != 0) {  // events lost: read to be sure
                    batch.read_now = true;
                    continue;
                }
                if ((event.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) != 0) {
                    batch.watch_lost = true;
                    continue;
                }
                if (!any_name_) {  // the name is NUL-padded to event.len
                    const void* nul = std::memchr(event_name, '\0', event.len);
                    const std::size_t length =
                        nul == nullptr
                            ? event.len
                            : static_cast<std::size_t>(static_cast<const char*>(nul) - event_name);
                    if (std::string_view(event_name, length) != file_name_) continue;
                }
                // release: see the counters.
                events_.fetch_add(1, std::memory_order_release);
                if ((event.mask &
                     (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB)) != 0)
                    batch.read_now = true;
                else
                    batch.read_later = true;  // IN_MODIFY, IN_CREATE
            }
        }
        return batch;
    }
#endif

    /// The watcher thread.
    void run() noexcept {
        detail::file_watch_current_thread() = this;
        // inotify: when to read next (a settle re-check, or a write in
        // progress). Polling: when to stat next, and whether the next tick
        // re-reads whatever stat says.
        constexpr steady::time_point never = steady::time_point::max();
        steady::time_point due = never;
        // Polling: the constructor's read may have raced a write that stat
        // cannot tell from it; the first tick re-reads.
        bool settle = true;
        if (mode() == file_watch_mode::polling) due = steady::now() + options_.poll_interval;
        // relaxed: see stop().
        while (!stopping_.load(std::memory_order_relaxed)) {
            const bool inotify = mode() == file_watch_mode::inotify;
            int timeout_ms = -1;
            if (due != never) {
                const auto left =
                    std::chrono::ceil<std::chrono::milliseconds>(due - steady::now()).count();
                timeout_ms = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : static_cast<int>(left);
            }
            struct pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {-1, POLLIN, 0}};
#if CANARYGATE_FILE_WATCH_INOTIFY
            if (inotify) fds[1].fd = inotify_.get();
#endif
            const int ready = ::poll(fds, static_cast<::nfds_t>(inotify ? 2 : 1), timeout_ms);
            if (stopping_.load(std::memory_order_relaxed)) break;
            if (ready < 0 && errno != EINTR) {
                // Should not happen (EINVAL, ENOMEM): wait a tick rather than spin.
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
                continue;
            }
            const auto now = steady::now();
#if CANARYGATE_FILE_WATCH_INOTIFY
            if (inotify) {
                const inotify_batch batch =
                    (fds[1].revents & POLLIN) != 0 ? drain_inotify() : inotify_batch{};
                if (batch.watch_lost || (fds[1].revents & (POLLERR | POLLNVAL)) != 0) {
                    fall_back_to_polling();
                    due = now + options_.poll_interval;
                    settle = true;
                    read_and_deliver();
                    continue;
                }
                if (batch.read_now) {
                    read_and_deliver();
                    due = steady::now() + options_.poll_interval;  // the settle re-check
                } else if (due != never && now >= due) {
                    due = never;
                    if (!read_and_deliver()) due = steady::now() + options_.poll_interval;
                } else if (batch.read_later && due == never) {
                    due = now + options_.poll_interval;
                }
                continue;
            }
#endif
            if (now < due) continue;  // woken early (EINTR)
            due = now + options_.poll_interval;
            const detail::file_watch_stat current = detail::file_watch_stat_path(path_);
            if (!(current == last_stat_)) {
                last_stat_ = current;
                events_.fetch_add(1, std::memory_order_release);  // release: see the counters
                read_and_deliver();
                settle = true;
            } else if (settle) {
                settle = !read_and_deliver();
            }
        }
        detail::file_watch_current_thread() = nullptr;
    }

#if CANARYGATE_FILE_WATCH_INOTIFY
    void fall_back_to_polling() noexcept {
        inotify_.reset();
        last_stat_ = detail::file_watch_stat_path(path_);
        mode_.store(file_watch_mode::polling, std::memory_order_relaxed);  // relaxed: see mode()
    }
#endif

    /// Reads the file and delivers it unless it equals the last delivery.
    /// Returns false when the file changed while it was read.
    bool read_and_deliver() {
        bool settled = true;
        CANARYGATE_TRY { settled = detail::file_watch_read(path_, options_.max_bytes, scratch_); }
        CANARYGATE_CATCH(...) {  // std::bad_alloc for the bytes: an error delivery
            scratch_.bytes = std::string();
            scratch_.error = "canarygate::file_watch: cannot read '" + path_ + "': out of memory";
            scratch_.error_number = ENOMEM;
        }
        // release (every counter): a stats() reader that acquires a count
        // sees everything this thread did before counting it, callbacks
        // included: a test or a health check waits for a count, then looks
        // at what its callback recorded. Not the hot path.
        reads_.fetch_add(1, std::memory_order_release);
        if (!scratch_.ok()) read_errors_.fetch_add(1, std::memory_order_release);
        const bool same = delivered_any_ && scratch_.ok() == last_.ok() &&
                          (scratch_.ok() ? scratch_.bytes == last_.bytes
                                         : scratch_.error_number == last_.error_number &&
                                               scratch_.error == last_.error);
        if (same) {
            unchanged_.fetch_add(1, std::memory_order_release);
            return settled;
        }
        const bool on_thread = detail::file_watch_current_thread() == this;
        if (on_thread && stopping_.load(std::memory_order_relaxed)) return settled;  // see stop()
        std::swap(scratch_, last_);
        last_.sequence = ++sequence_;
        delivered_any_ = true;
        if (!on_thread) {
            callback_(last_);  // the constructor's call: exceptions leave the constructor
            deliveries_.fetch_add(1, std::memory_order_release);
            return settled;
        }
        CANARYGATE_TRY { callback_(last_); }
        CANARYGATE_CATCH(...) { callback_errors_.fetch_add(1, std::memory_order_release); }
        deliveries_.fetch_add(1, std::memory_order_release);
        return settled;
    }

    callback_type callback_;
    file_watch_options options_;
    std::string path_;       // absolute
    std::string directory_;  // its parent, watched with inotify
    std::string file_name_;  // the name inotify events are matched against

    detail::file_watch_fd wake_;        // eventfd (Linux) or a pipe's read end
    detail::file_watch_fd wake_write_;  // the pipe's write end (not Linux)
#if CANARYGATE_FILE_WATCH_INOTIFY
    detail::file_watch_fd inotify_;
    int watch_descriptor_ = -1;
    bool any_name_ = false;  // the path is a symbolic link: every event in the directory counts
#endif

    // The watcher thread's own (the constructor's before it starts).
    detail::file_watch_stat last_stat_;  // polling: what stat said last
    file_contents last_;                 // the last delivery
    file_contents scratch_;              // the read being compared with it
    bool delivered_any_ = false;
    std::uint64_t sequence_ = 0;

    std::atomic<file_watch_mode> mode_{file_watch_mode::polling};
    std::atomic<bool> stopping_{false};
    // Incremented by one thread (the watcher, or the constructor before it
    // starts) with release, read by stats() with acquire: see
    // read_and_deliver().
    std::atomic<std::uint64_t> deliveries_{0};
    std::atomic<std::uint64_t> reads_{0};
    std::atomic<std::uint64_t> read_errors_{0};
    std::atomic<std::uint64_t> unchanged_{0};
    std::atomic<std::uint64_t> events_{0};
    std::atomic<std::uint64_t> callback_errors_{0};

    std::mutex join_mutex_;  // serialises concurrent stop() calls' join
    std::thread thread_;
};

CANARYGATE_NAMESPACE_END
