import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to a loopback port driven byte by byte, as a hostile or broken client would: half a head,
/// a body that stops, bytes that are not UTF-8. Blocking calls with timeouts; for tests only.
public final class RawConnection: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case connect(Int32)
        public var description: String {
            switch self {
            case .connect(let code): "could not connect: errno \(code)"
            }
        }
    }

    private let fd: Int32

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect(errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw Failure.connect(code)
        }
    }

    deinit { close(fd) }

    /// Sends all of `bytes`; false if the peer closed the connection.
    @discardableResult
    public func send(_ bytes: some Collection<UInt8>) -> Bool {
        let array = Array(bytes)
        var sent = 0
        while sent < array.count {
            let n = array[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// What arrives within `timeout`, read until the peer closes, `timeout` passes, or `until` holds for what
    /// was read so far. `closed` says whether the peer closed the connection.
    public func receive(timeout: TimeInterval, until: (String) -> Bool) -> (text: String, closed: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return (String(decoding: received, as: UTF8.self), false) }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(max(1, left * 1000)))
            if ready <= 0 { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return (String(decoding: received, as: UTF8.self), true) }
            received.append(contentsOf: buffer[0..<n])
            let text = String(decoding: received, as: UTF8.self)
            if until(text) { return (text, false) }
        }
    }

    /// What arrives within `timeout`, until the peer closes or `timeout` passes.
    public func receive(timeout: TimeInterval) -> (text: String, closed: Bool) {
        receive(timeout: timeout, until: { _ in false })
    }

    /// Reads one whole HTTP response (head and a `Content-Length` body) within `timeout`, or what came.
    public func response(timeout: TimeInterval) -> (text: String, closed: Bool) {
        receive(timeout: timeout) { text in
            guard let headEnd = text.range(of: "\r\n\r\n") else { return false }
            let head = text[..<headEnd.lowerBound].lowercased()
            guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                  let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else { return true }
            return text[headEnd.upperBound...].utf8.count >= length
        }
    }

    /// ``receive(timeout:until:)`` on a thread of its own: an async test must not block Swift's few cooperative
    /// threads, on which the server under test answers.
    public func receive(timeout: TimeInterval, until: @escaping @Sendable (String) -> Bool = { _ in false }) async -> (text: String, closed: Bool) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in continuation.resume(returning: receive(timeout: timeout, until: until)) }
        }
    }

    /// ``response(timeout:)`` on a thread of its own (see ``receive(timeout:until:)-async``).
    public func response(timeout: TimeInterval) async -> (text: String, closed: Bool) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in continuation.resume(returning: response(timeout: timeout)) }
        }
    }

    /// The status code of a response's first line.
    public static func status(of response: String) -> Int? {
        let parts = response.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }
}
