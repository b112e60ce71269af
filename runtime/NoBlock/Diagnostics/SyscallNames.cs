using System.Runtime.InteropServices;

namespace NoBlock.Diagnostics;

/// <summary>
/// Syscall numbers (as <c>/proc/self/task/&lt;tid&gt;/syscall</c> prints them) to names, for the architectures
/// NoBlock runs on: x86-64 (<c>arch/x86/entry/syscalls/syscall_64.tbl</c>) and arm64 (the generic table,
/// <c>include/uapi/asm-generic/unistd.h</c>). Only the calls a stalled loop thread is plausibly sitting in, plus
/// their neighbours that would otherwise show up as bare numbers.
/// </summary>
internal static class SyscallNames
{
    private static readonly Dictionary<int, string> X64 = new()
    {
        [0] = "read", [1] = "write", [2] = "open", [3] = "close", [4] = "stat", [5] = "fstat", [6] = "lstat",
        [7] = "poll", [8] = "lseek", [9] = "mmap", [10] = "mprotect", [11] = "munmap", [12] = "brk",
        [16] = "ioctl", [17] = "pread64", [18] = "pwrite64", [19] = "readv", [20] = "writev", [23] = "select",
        [24] = "sched_yield", [26] = "msync", [28] = "madvise", [34] = "pause", [35] = "nanosleep",
        [40] = "sendfile", [41] = "socket", [42] = "connect", [43] = "accept", [44] = "sendto", [45] = "recvfrom",
        [46] = "sendmsg", [47] = "recvmsg", [48] = "shutdown", [49] = "bind", [50] = "listen", [56] = "clone",
        [57] = "fork", [59] = "execve", [61] = "wait4", [65] = "semop", [69] = "msgsnd", [70] = "msgrcv",
        [72] = "fcntl", [73] = "flock", [74] = "fsync", [75] = "fdatasync", [76] = "truncate", [77] = "ftruncate",
        [78] = "getdents", [82] = "rename", [83] = "mkdir", [84] = "rmdir", [87] = "unlink", [128] = "rt_sigtimedwait",
        [130] = "rt_sigsuspend", [162] = "sync", [202] = "futex", [206] = "io_setup", [208] = "io_getevents",
        [209] = "io_submit", [217] = "getdents64", [220] = "semtimedop", [230] = "clock_nanosleep", [232] = "epoll_wait",
        [247] = "waitid", [257] = "openat", [262] = "newfstatat", [263] = "unlinkat", [270] = "pselect6", [271] = "ppoll",
        [275] = "splice", [277] = "sync_file_range", [281] = "epoll_pwait", [285] = "fallocate", [288] = "accept4",
        [295] = "preadv", [296] = "pwritev", [299] = "recvmmsg", [306] = "syncfs", [307] = "sendmmsg",
        [318] = "getrandom", [326] = "copy_file_range", [327] = "preadv2", [328] = "pwritev2", [332] = "statx",
        [333] = "io_pgetevents", [426] = "io_uring_enter", [441] = "epoll_pwait2", [449] = "futex_waitv",
    };

    private static readonly Dictionary<int, string> Arm64 = new()
    {
        [2] = "io_submit", [4] = "io_getevents", [20] = "epoll_create1", [21] = "epoll_ctl", [22] = "epoll_pwait",
        [25] = "fcntl", [29] = "ioctl", [32] = "flock", [34] = "mkdirat", [35] = "unlinkat", [38] = "renameat",
        [46] = "ftruncate", [47] = "fallocate", [56] = "openat", [57] = "close", [61] = "getdents64", [62] = "lseek",
        [63] = "read", [64] = "write", [65] = "readv", [66] = "writev", [67] = "pread64", [68] = "pwrite64",
        [69] = "preadv", [70] = "pwritev", [71] = "sendfile", [72] = "pselect6", [73] = "ppoll", [76] = "splice",
        [79] = "newfstatat", [80] = "fstat", [81] = "sync", [82] = "fsync", [83] = "fdatasync", [84] = "sync_file_range",
        [95] = "waitid", [98] = "futex", [101] = "nanosleep", [115] = "clock_nanosleep", [124] = "sched_yield",
        [133] = "rt_sigsuspend", [137] = "rt_sigtimedwait", [188] = "msgrcv", [189] = "msgsnd", [192] = "semtimedop",
        [193] = "semop", [198] = "socket", [200] = "bind", [201] = "listen", [202] = "accept", [203] = "connect",
        [206] = "sendto", [207] = "recvfrom", [210] = "shutdown", [211] = "sendmsg", [212] = "recvmsg", [214] = "brk",
        [215] = "munmap", [220] = "clone", [221] = "execve", [222] = "mmap", [226] = "mprotect", [227] = "msync",
        [233] = "madvise", [242] = "accept4", [243] = "recvmmsg", [260] = "wait4", [267] = "syncfs", [269] = "sendmmsg",
        [278] = "getrandom", [285] = "copy_file_range", [286] = "preadv2", [287] = "pwritev2", [291] = "statx",
        [292] = "io_pgetevents", [426] = "io_uring_enter", [441] = "epoll_pwait2", [449] = "futex_waitv",
    };

    /// <summary>What sitting in a syscall usually means for a .NET loop thread, said after its name.</summary>
    private static readonly Dictionary<string, string> Meanings = new()
    {
        ["futex"] = "a managed wait", // lock, Monitor, Task.Wait/.Result, wait handles, semaphores, Thread.Sleep: docs/watchdog.md
        ["futex_waitv"] = "a managed wait",
        ["nanosleep"] = "a sleep",
        ["clock_nanosleep"] = "a sleep",
        ["read"] = "a blocking read: a file, a pipe or a blocking socket",
        ["pread64"] = "a file read",
        ["recvfrom"] = "a blocking socket receive",
        ["recvmsg"] = "a blocking socket receive",
        ["connect"] = "a blocking connect",
        ["accept"] = "a blocking accept",
        ["accept4"] = "a blocking accept",
        ["sendto"] = "a blocking socket send",
        ["sendmsg"] = "a blocking socket send",
        ["write"] = "a blocking write: a full pipe or socket, a slow file or terminal",
        ["fsync"] = "flushing a file to disk",
        ["fdatasync"] = "flushing a file to disk",
        ["openat"] = "opening a file (slow storage or a network file system)",
        ["poll"] = "a nested poll",
        ["ppoll"] = "a nested poll",
        ["select"] = "a nested select",
        ["pselect6"] = "a nested select",
        ["epoll_wait"] = "a nested epoll_wait",
        ["epoll_pwait"] = "a nested epoll_wait",
        ["epoll_pwait2"] = "a nested epoll_wait",
        ["wait4"] = "waiting for a child process",
        ["waitid"] = "waiting for a child process",
    };

    /// <summary>The syscall's name for the running architecture, or <c>syscall N</c> when not in the table.</summary>
    public static string Name(int number) => Name(number, RuntimeInformation.ProcessArchitecture);

    /// <summary>The syscall's name for <paramref name="architecture"/>, or <c>syscall N</c> when not in the table.</summary>
    public static string Name(int number, Architecture architecture)
    {
        var table = architecture == Architecture.Arm64 ? Arm64 : architecture == Architecture.X64 ? X64 : null;
        return table is not null && table.TryGetValue(number, out var name) ? name : $"syscall {number}";
    }

    /// <summary>A few words on what the syscall means for a loop thread, or null.</summary>
    public static string? Meaning(string? name) => name is not null && Meanings.TryGetValue(name, out var m) ? m : null;
}
