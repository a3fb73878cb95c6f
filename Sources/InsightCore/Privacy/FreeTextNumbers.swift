extension Masking {
    /// The numbers in a text, as ``Masking/scrub(_:)`` finds them, read from its UTF-8 bytes: first the runs of
    /// digits (ASCII or full-width) outside insightd's own ids, then, reading the runs in order, the few shapes
    /// in which a number is written in groups. Each byte is looked at a bounded number of times and a shape
    /// looks at most five runs ahead, so the work is linear in the text, whatever it holds.
    struct FreeText {
        /// A maximal run of digits: the bytes `start..<end`, holding `count` digits (a full-width one is 3 bytes).
        struct Run {
            let start: Int
            let end: Int
            let count: Int
        }

        /// A number found: the bytes `start..<end` (perhaps with a `(` before its digits) are replaced by its
        /// digits, masked as `shown` says. They are those of `runs` and, for an ID number ending in `X`, `check`.
        struct Number {
            let start: Int
            let end: Int
            let runs: Range<Int>
            var check: Range<Int>? = nil
            let shown: (head: Int, tail: Int)
        }

        let bytes: UnsafeBufferPointer<UInt8>
        let runs: [Run]

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
            runs = Self.digitRuns(in: bytes)
        }

        /// `text` with every number found masked, everything else as it was.
        static func scrub(_ text: String) -> String {
            var text = text
            return text.withUTF8 { bytes in
                let scan = FreeText(bytes)
                return scan.runs.isEmpty ? nil : scan.scrubbed()
            } ?? text
        }

        func scrubbed() -> String {
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count)
            var copied = 0
            var index = 0
            while index < runs.count {
                // The length of the first run says which shapes may start there.
                let found: Number? = switch runs[index].count {
                case 3: mobile(at: index)
                case 4: card(at: index)
                case 6: idNumber(at: index)
                case 11...: single(at: index)
                default: nil
                }
                guard let number = found else {
                    index += 1
                    continue
                }
                output.append(contentsOf: bytes[copied..<number.start])
                write(number, into: &output)
                copied = number.end
                index = number.runs.upperBound
            }
            output.append(contentsOf: bytes[copied...])
            return String(decoding: output, as: UTF8.self)
        }

        /// The number's digits as ``Masking/phone(_:)``, ``Masking/idNumber(_:)`` and
        /// ``Masking/accountNumber(_:)`` mask them, without what separated them: the first and last ones as
        /// written (ASCII or full-width), a `*` for each other. Written in place, not through those functions:
        /// a text may hold a number every few bytes. (Every number found has more digits than a mask shows.)
        private func write(_ number: Number, into output: inout [UInt8]) {
            var total = number.check == nil ? 0 : 1
            var index = number.runs.lowerBound
            while index < number.runs.upperBound {
                total += runs[index].count
                index += 1
            }
            var position = 0
            func put(_ start: Int, _ end: Int) {
                if position < number.shown.head || position >= total - number.shown.tail {
                    var byte = start
                    while byte < end {
                        output.append(bytes[byte])
                        byte += 1
                    }
                } else {
                    output.append(UInt8(ascii: "*"))
                }
                position += 1
            }
            index = number.runs.lowerBound
            while index < number.runs.upperBound {
                var byte = runs[index].start
                while byte < runs[index].end {
                    let width = bytes[byte] < 0x80 ? 1 : 3  // an ASCII or a full-width digit
                    put(byte, byte + width)
                    byte += width
                }
                index += 1
            }
            if let check = number.check { put(check.lowerBound, check.upperBound) }
        }

        // MARK: Runs

        static func digitRuns(in bytes: UnsafeBufferPointer<UInt8>) -> [Run] {
            var runs: [Run] = []
            var index = 0
            // Byte by byte: a digit, a separator or the start of an id never begins inside another character,
            // whose continuation bytes are 0x80–0xBF.
            while index < bytes.count {
                if isOwnId(bytes, at: index) {
                    while index < bytes.count, isWordByte(bytes[index]) { index += 1 }
                    continue
                }
                guard digit(bytes, at: index) != nil else {
                    index += 1
                    continue
                }
                let start = index
                var count = 0
                while index < bytes.count, let digit = digit(bytes, at: index) {
                    index += digit.width
                    count += 1
                }
                runs.append(Run(start: start, end: index, count: count))
            }
            return runs
        }

        /// A word starting `ld_` or `dl_`: a lead or delivery id, which holds digits but no personal data. A
        /// word is what `[A-Za-z0-9_]` matches.
        private static func isOwnId(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
            guard index + 3 <= bytes.count, bytes[index + 2] == UInt8(ascii: "_"), index == 0 || !isWordByte(bytes[index - 1])
            else { return false }
            let pair = (bytes[index], bytes[index + 1])
            return pair == (UInt8(ascii: "l"), UInt8(ascii: "d")) || pair == (UInt8(ascii: "d"), UInt8(ascii: "l"))
        }

        private static func isWordByte(_ byte: UInt8) -> Bool {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x5F, 0x61...0x7A: true
            default: false
            }
        }

        // MARK: One run

        /// A run of 11 digits or more on its own: 11 digits starting `1` (a mobile number, also right after
        /// letters, as in `Tel13812345678`), 17 digits and an `X` or 18 digits (an ID number), 12–19 digits (an
        /// account or card number).
        private func single(at index: Int) -> Number? {
            let run = runs[index]
            if run.count == 17, let x = Self.checkCharacter(bytes, at: run.end) {
                return Number(start: run.start, end: run.end + x, runs: index..<index + 1, check: run.end..<run.end + x,
                              shown: Shown.idNumber)
            }
            let shown: (head: Int, tail: Int)
            switch run.count {
            case 11 where Self.digit(bytes, at: run.start)?.value == 1: shown = Shown.phone
            case 18: shown = Shown.idNumber
            case 12...19: shown = Shown.accountNumber
            default: return nil
            }
            return Number(start: run.start, end: run.end, runs: index..<index + 1, shown: shown)
        }

        // MARK: Runs in groups

        /// A mobile number in groups of 3-4-4 or 3-8 digits starting with run `index` (3 digits, `13` to `19`);
        /// the first group may be in parentheses: `(138)1234-5678`, `(138) 12345678`.
        private func mobile(at index: Int) -> Number? {
            let first = runs[index]
            guard index + 1 < runs.count, let head = Self.digit(bytes, at: first.start), head.value == 1,
                  let second = Self.digit(bytes, at: first.start + head.width), second.value >= 3 else { return nil }
            var start = first.start
            if separator(between: index, index + 1) == nil {
                guard let parenthesis = openingParenthesis(before: first.start), closesParenthesis(between: index, index + 1)
                else { return nil }
                start = parenthesis
            }
            let used: Int
            if runs[index + 1].count == 8 {
                used = 2
            } else if runs[index + 1].count == 4, index + 2 < runs.count, runs[index + 2].count == 4,
                      separator(between: index + 1, index + 2) != nil {
                used = 3
            } else {
                return nil
            }
            return Number(start: start, end: runs[index + used - 1].end, runs: index..<index + used, shown: Shown.phone)
        }

        /// An ID number in groups of 6-8-4 starting with run `index`; the last group may end in `X`.
        private func idNumber(at index: Int) -> Number? {
            guard index + 2 < runs.count, runs[index + 1].count == 8, separator(between: index, index + 1) != nil,
                  separator(between: index + 1, index + 2) != nil else { return nil }
            let last = runs[index + 2]
            var check: Range<Int>?
            if last.count == 3, let x = Self.checkCharacter(bytes, at: last.end) {
                check = last.end..<last.end + x
            } else if last.count != 4 {
                return nil
            }
            return Number(start: runs[index].start, end: check?.upperBound ?? last.end, runs: index..<index + 3, check: check,
                          shown: Shown.idNumber)
        }

        /// A card or account number starting with run `index`: three or four groups of 4 digits, perhaps a
        /// last group of 1–3.
        private func card(at index: Int) -> Number? {
            var used = 1
            while used < 4, index + used < runs.count, runs[index + used].count == 4,
                  separator(between: index + used - 1, index + used) != nil {
                used += 1
            }
            guard used >= 3 else { return nil }
            if index + used < runs.count, (1...3).contains(runs[index + used].count),
               separator(between: index + used - 1, index + used) != nil {
                used += 1
            }
            return Number(start: runs[index].start, end: runs[index + used - 1].end, runs: index..<index + used,
                          shown: Shown.accountNumber)
        }

        /// The one separator between two neighbouring runs (a space, `-` or `.`), nil when they are apart
        /// otherwise.
        private func separator(between left: Int, _ right: Int) -> UInt8? {
            let gap = runs[left].end
            guard let separator = Self.separator(bytes, at: gap), gap + separator.width == runs[right].start,
                  separator.kind != UInt8(ascii: "("), separator.kind != UInt8(ascii: ")") else { return nil }
            return separator.kind
        }

        /// `)` between two runs, perhaps followed by a space or `-`: `(138)1234`, `(138) 1234`.
        private func closesParenthesis(between left: Int, _ right: Int) -> Bool {
            let gap = runs[left].end
            guard let closing = Self.separator(bytes, at: gap), closing.kind == UInt8(ascii: ")") else { return false }
            if gap + closing.width == runs[right].start { return true }
            guard let after = Self.separator(bytes, at: gap + closing.width),
                  after.kind == UInt8(ascii: " ") || after.kind == UInt8(ascii: "-") else { return false }
            return gap + closing.width + after.width == runs[right].start
        }

        /// Where a `(` (or `（`) ends right before `position` starts.
        private func openingParenthesis(before position: Int) -> Int? {
            for width in [1, 3] where position >= width {
                if let separator = Self.separator(bytes, at: position - width), separator.width == width,
                   separator.kind == UInt8(ascii: "(") {
                    return position - width
                }
            }
            return nil
        }

        // MARK: Characters

        /// The digit at `index`: ASCII, or full-width (U+FF10–U+FF19, `EF BC 90`–`EF BC 99`).
        static func digit(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt8, width: Int)? {
            guard index < bytes.count else { return nil }
            let byte = bytes[index]
            if byte &- 0x30 < 10 { return (byte - 0x30, 1) }
            guard byte == 0xEF, index + 2 < bytes.count, bytes[index + 1] == 0xBC, bytes[index + 2] &- 0x90 < 10 else { return nil }
            return (bytes[index + 2] - 0x90, 3)
        }

        /// What may stand between the groups of a number, as its ASCII form: a space (also no-break and
        /// ideographic), `-` (also the Unicode hyphens, the en dash and full-width), `.` and the parentheses
        /// (also full-width).
        static func separator(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (kind: UInt8, width: Int)? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case 0x20, 0x2D, 0x2E, 0x28, 0x29: return (bytes[index], 1)
            case 0xC2 where index + 1 < bytes.count && bytes[index + 1] == 0xA0: return (0x20, 2)  // U+00A0
            case 0xE2, 0xE3, 0xEF: break
            default: return nil
            }
            guard index + 2 < bytes.count else { return nil }
            switch (bytes[index], bytes[index + 1], bytes[index + 2]) {
            case (0xE3, 0x80, 0x80): return (0x20, 3)  // U+3000
            case (0xE2, 0x80, 0x90...0x93): return (0x2D, 3)  // U+2010–U+2013
            case (0xEF, 0xBC, 0x8D): return (0x2D, 3)  // U+FF0D
            case (0xEF, 0xBC, 0x8E): return (0x2E, 3)  // U+FF0E
            case (0xEF, 0xBC, 0x88): return (0x28, 3)  // U+FF08
            case (0xEF, 0xBC, 0x89): return (0x29, 3)  // U+FF09
            default: return nil
            }
        }

        /// The width of the check character an ID number may end in at `index`: `X`, also lower case and
        /// full-width (U+FF38, U+FF58); nil when there is none.
        static func checkCharacter(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "X") || bytes[index] == UInt8(ascii: "x") { return 1 }
            guard index + 2 < bytes.count, bytes[index] == 0xEF else { return nil }
            switch (bytes[index + 1], bytes[index + 2]) {
            case (0xBC, 0xB8), (0xBD, 0x98): return 3
            default: return nil
            }
        }
    }
}
