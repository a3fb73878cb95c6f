import Foundation
import InsightCore
import InsightDaemon
#if canImport(Glibc)
import Glibc
#endif

// The config loader (`ConfigLoader.load`, as `insightd check`, `run` and a reload use it) on YAML it has never seen:
// errors are expected, a trap, a hang or a runaway allocation is a finding.
// - Input: files separated by NUL bytes. The first is etc/insightd.yaml; each one after it starts with a byte
//   naming it among the plugins' files (birthday-care, loan-renewal, product-match, risk-alerts, rules) and
//   the auxiliary files (products, calendar), written to plugins-config/<name>.yaml beside it (the shipped
//   plugins_dir is ../plugins-config). The loader's registry holds the plugins that have a file, so only they
//   are loaded (the others would be read as "off").
// - An input that names a `file:` secret is skipped: the loader reads whatever file a secret names (the operator
//   writes the config), and /dev/zero would only measure the fuzzer's memory limit. `env:` and `credential:`
//   resolve against an empty environment.
// - An accepted configuration is checked for what the loader promises: its paths are absolute.

@inline(never)
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("check failed: \(message())") }
}

let registry = ConfigLoader().registry
let fileNames = registry.map(\.id) + ["products", "calendar"]

/// Writes `bytes` to `path` (created or truncated), with no fsync: FileManager.createFile writes a temporary file,
/// syncs it and renames it, which made each input wait for the disk.
func write(_ bytes: some Collection<UInt8>, to path: String) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { fatalError("cannot write \(path): errno \(errno)") }
    defer { close(descriptor) }
    let data = Array(bytes)
    var offset = 0
    while offset < data.count {
        let written = data[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written > 0 else { fatalError("cannot write \(path): errno \(errno)") }
        offset += written
    }
}

/// etc/ and plugins-config/ in a directory made once per process.
let root: String = {
    var template = Array((NSTemporaryDirectory() + "/insightd-fuzz-config.XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
    let root = String(cString: made)
    for folder in ["etc", "plugins-config"] {
        try! FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
    }
    return root
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    if bytes.firstRange(of: Array("file:".utf8)) != nil { return -1 }  // -1: not added to the corpus
    let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
    let manager = FileManager.default
    let plugins = root + "/plugins-config"
    for name in (try? manager.contentsOfDirectory(atPath: plugins)) ?? [] {
        try? manager.removeItem(atPath: plugins + "/" + name)
    }
    let configPath = root + "/etc/insightd.yaml"
    write(parts.first.map(Array.init) ?? [], to: configPath)
    var written = Set<String>()
    for part in parts.dropFirst() where !part.isEmpty {
        let name = fileNames[Int(part[part.startIndex]) % fileNames.count]
        write(part.dropFirst(), to: "\(plugins)/\(name).yaml")
        written.insert(name)
    }
    let loader = ConfigLoader(registry: registry.filter { written.contains($0.id) })
    do {
        let loaded = try loader.load(path: configPath, environment: [:])
        check(loaded.stateDirectory.hasPrefix("/") && loaded.pluginsDirectory.hasPrefix("/")
                  && loaded.templatesDirectory.hasPrefix("/"), "a relative directory in the loaded configuration")
        check(loaded.plugins.count <= written.count, "more plugins than plugin files")
    } catch {
        check(!error.errors.isEmpty, "the loader failed without an error")
        for item in error.errors { _ = item.description }
    }
    return 0
}
