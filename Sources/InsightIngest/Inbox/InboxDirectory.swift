import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One directory of the inbox (the inbox itself, `done/`, `failed/`), held open as a descriptor for one scan.
///
/// Every name is looked up relative to the descriptor and never through a symlink: the inbox is writable by the
/// jobs that feed it, and a symlink planted there (in place of a file, of `done/` or `failed/`, of a `.error`
/// note) must not make the daemon read, move or write anything outside it. Names come from the directory's own
/// listing (or are the inbox's fixed ones), so none holds a `/`.
final class InboxDirectory {
    /// Why a directory or a file is refused; the description names it and says what to do.
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// What `fstat`/`fstatat` said of one entry: of the entry itself, never of a symlink's target.
    struct Status: Equatable {
        let type: mode_t
        let size: Int64
        let modifiedSeconds: Int
        let modifiedNanoseconds: Int
        let inode: UInt64
        let owner: uid_t

        init(_ raw: stat) {
            type = raw.st_mode & S_IFMT
            size = Int64(raw.st_size)
            #if canImport(Glibc)
            modifiedSeconds = Int(raw.st_mtim.tv_sec)
            modifiedNanoseconds = Int(raw.st_mtim.tv_nsec)
            #else
            modifiedSeconds = Int(raw.st_mtimespec.tv_sec)
            modifiedNanoseconds = Int(raw.st_mtimespec.tv_nsec)
            #endif
            inode = UInt64(raw.st_ino)
            owner = raw.st_uid
        }

        var isRegular: Bool { type == S_IFREG }
        var isDirectory: Bool { type == S_IFDIR }
        var modified: Date {
            Date(timeIntervalSince1970: TimeInterval(modifiedSeconds) + TimeInterval(modifiedNanoseconds) / 1e9)
        }

        /// Unchanged content as far as the file system tells: the same size and modification time.
        func sameContent(as other: Status) -> Bool {
            size == other.size && modifiedSeconds == other.modifiedSeconds
                && modifiedNanoseconds == other.modifiedNanoseconds
        }

        /// What the entry is, for messages ("a symlink").
        var kind: String {
            switch type {
            case S_IFREG: "a regular file"
            case S_IFDIR: "a directory"
            case S_IFLNK: "a symlink"
            case S_IFIFO: "a FIFO"
            case S_IFSOCK: "a socket"
            case S_IFCHR: "a character device"
            case S_IFBLK: "a block device"
            default: "of an unknown type"
            }
        }
    }

    /// A regular file of the directory, open for reading; its descriptor is closed with the handle.
    struct OpenFile {
        let handle: FileHandle
        /// Its status when opened.
        let status: Status

        /// Its status now, through the descriptor (whatever is at its name meanwhile).
        func currentStatus() -> Status? {
            var raw = stat()
            return fstat(handle.fileDescriptor, &raw) == 0 ? Status(raw) : nil
        }
    }

    let path: String
    private let descriptor: Int32

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// Opens the directory at `path`, which must be a directory itself: a symlink to one is refused
    /// (`O_NOFOLLOW`), since whoever can replace the inbox by a link could point it anywhere.
    convenience init(opening path: String) throws(Refused) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            let error = errno
            var raw = stat()
            if lstat(path, &raw) == 0, raw.st_mode & S_IFMT == S_IFLNK {
                throw Refused(description: "the inbox directory \(path) is a symlink; the inbox does not follow links: "
                              + "configure the real directory")
            }
            throw Refused(description: "cannot open the inbox directory \(path): \(Self.message(error))")
        }
        self.init(descriptor: descriptor, path: path)
    }

    /// The entry `name` of this directory, where the inbox moves files (`done`, `failed`): made (mode 0700) if
    /// missing, and refused unless it is a real directory owned by the daemon's user. A symlink there would send
    /// the inbox's files, or its `.error` notes, wherever it points; a directory of another user could hold
    /// anything that user planted.
    func subdirectory(_ name: String) throws(Refused) -> InboxDirectory {
        let full = (path as NSString).appendingPathComponent(name)
        if mkdirat(descriptor, name, 0o700) != 0, errno != EEXIST {
            throw Refused(description: "cannot create \(full): \(Self.message(errno))")
        }
        let opened = openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard opened >= 0 else {
            let error = errno
            if let status = status(of: name), !status.isDirectory {
                throw Refused(description: "\(full) is \(status.kind), not a directory; the inbox does not follow it "
                              + "and leaves its files in place: make \(full) a directory owned by uid \(geteuid())")
            }
            throw Refused(description: "cannot open \(full): \(Self.message(error))")
        }
        let directory = InboxDirectory(descriptor: opened, path: full)
        var raw = stat()
        guard fstat(opened, &raw) == 0 else { throw Refused(description: "cannot stat \(full): \(Self.message(errno))") }
        let status = Status(raw)
        guard status.owner == geteuid() else {
            throw Refused(description: "\(full) is owned by uid \(status.owner), not by the daemon's uid \(geteuid()); "
                          + "the inbox leaves its files in place until it is")
        }
        return directory
    }

    /// The names in the directory, sorted, without `.` and `..`.
    func names() throws(Refused) -> [String] {
        // fdopendir takes the descriptor it is given: a duplicate, so this one stays open.
        let duplicate = dup(descriptor)
        guard duplicate >= 0, let stream = fdopendir(duplicate) else {
            let error = errno
            if duplicate >= 0 { close(duplicate) }
            throw Refused(description: "cannot list \(path): \(Self.message(error))")
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The status of the entry `name` itself (a symlink is reported as one), or nil when there is none.
    func status(of name: String) -> Status? {
        var raw = stat()
        return fstatat(descriptor, name, &raw, AT_SYMLINK_NOFOLLOW) == 0 ? Status(raw) : nil
    }

    /// Opens the regular file `name` for reading. A symlink is refused by the open itself (`O_NOFOLLOW`), and
    /// anything else not a regular file by a `fstat` of what was opened: a FIFO swapped in after the scan looked
    /// is opened without waiting for a writer (`O_NONBLOCK`) and then refused, so it cannot block the inbox.
    func openFile(_ name: String) throws(Refused) -> OpenFile {
        let opened = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard opened >= 0 else {
            let error = errno
            if error == ELOOP { throw Refused(description: Self.notRegular(name, kind: "a symlink")) }
            throw Refused(description: "cannot open \(name): \(Self.message(error))")
        }
        var raw = stat()
        guard fstat(opened, &raw) == 0 else {
            let error = errno
            close(opened)
            throw Refused(description: "cannot stat \(name): \(Self.message(error))")
        }
        let status = Status(raw)
        guard status.isRegular else {
            close(opened)
            throw Refused(description: Self.notRegular(name, kind: status.kind))
        }
        return OpenFile(handle: FileHandle(fileDescriptor: opened, closeOnDealloc: true), status: status)
    }

    /// Moves the entry `name` into `target` under the first name free there (`loans.csv`, then `loans.csv.1`, …),
    /// free also with `companion` appended (the `.error` note beside a failed file). Returns the name used.
    ///
    /// `renameat` moves the entry itself and replaces a directory entry, never writing through it: a symlink
    /// planted at the chosen name in between is replaced, not followed.
    @discardableResult
    func move(_ name: String, into target: InboxDirectory, companion: String? = nil) throws(Refused) -> String {
        var chosen = name
        var suffix = 1
        while target.status(of: chosen) != nil || companion.map({ target.status(of: chosen + $0) != nil }) == true {
            chosen = "\(name).\(suffix)"
            suffix += 1
        }
        guard renameat(descriptor, name, target.descriptor, chosen) == 0 else {
            throw Refused(description: "cannot move \(name) to \(target.path): \(Self.message(errno))")
        }
        return chosen
    }

    /// Removes the entry `name` (a file done with, when the inbox deletes rather than moves).
    func remove(_ name: String) throws(Refused) {
        guard unlinkat(descriptor, name, 0) == 0 else {
            throw Refused(description: "cannot delete \(name): \(Self.message(errno))")
        }
    }

    /// Writes a new file `name` (mode 0600) holding `text`. It is created here (`O_CREAT | O_EXCL | O_NOFOLLOW`):
    /// an entry already at that name, a symlink above all, is unlinked first, never written through.
    func writeNew(_ name: String, _ text: String) throws(Refused) {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var opened = openat(descriptor, name, flags, 0o600)
        if opened < 0, errno == EEXIST, unlinkat(descriptor, name, 0) == 0 {
            opened = openat(descriptor, name, flags, 0o600)
        }
        guard opened >= 0 else {
            throw Refused(description: "cannot create \((path as NSString).appendingPathComponent(name)): \(Self.message(errno))")
        }
        defer { close(opened) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(opened, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else {
                throw Refused(description: "cannot write \((path as NSString).appendingPathComponent(name)): \(Self.message(errno))")
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Why the entry `name`, being `kind`, is not read.
    static func notRegular(_ name: String, kind: String) -> String {
        "\(name) is \(kind), not a regular file: the inbox neither reads nor follows it, and leaves it where it is"
    }

    private static func message(_ error: Int32) -> String {
        String(cString: strerror(error))
    }
}
