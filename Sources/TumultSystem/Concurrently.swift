import Dispatch
import Foundation

/// Blocking calls side by side on Dispatch's threads (`concurrentPerform`):
/// for work that mostly waits on commands (`tc`, `iptables-save`, a
/// recovery), so that many targets take about as long as the slowest.
public enum Concurrently {
    /// `transform` of every element, in the elements' order.
    public static func map<Element: Sendable, Result>(_ elements: [Element], _ transform: @Sendable (Element) -> Result) -> [Result] {
        let slots = Slots<Result>(count: elements.count)
        withoutActuallyEscaping(transform) { transform in
            DispatchQueue.concurrentPerform(iterations: elements.count) { index in
                slots.set(index, transform(elements[index]))
            }
        }
        return slots.values
    }

    /// Results filled in by index from several threads.
    private final class Slots<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Value?]

        init(count: Int) { slots = Array(repeating: nil, count: count) }

        func set(_ index: Int, _ value: Value) { lock.withLock { slots[index] = value } }
        /// Every slot is set once `concurrentPerform` returns.
        var values: [Value] { lock.withLock { slots.map { $0! } } }
    }
}
