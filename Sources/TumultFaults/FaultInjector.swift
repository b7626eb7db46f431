import Foundation
import TumultSystem

/// Where an injector records each change *before* it makes it, with what
/// undoes it. The daemon backs this with its SQLite journal, so that a
/// crash at any moment leaves a record of everything that may need undoing.
public protocol ChangeRecorder: AnyObject {
    /// Records a change about to be made; returns its sequence number.
    func willApply(_ summary: String, undo: Data) throws -> Int
    /// Marks the change made, replacing its undo record when the change
    /// learnt something only applying could tell (a helper's pid).
    func didApply(_ sequence: Int, undo: Data?) throws
}

/// Applies one kind of fault to exactly one target and undoes it.
///
/// `apply` records every change through the recorder before making it and
/// reads it back after; on failure it undoes what it did and throws.
/// `recover` takes the recorded undo steps (newest last) and is idempotent:
/// undoing what is already gone, or a target that vanished, succeeds.
/// `check` is the read-back again, while the fault runs: a fault that was
/// applied can still be lost (its engine killed, its rules flushed, its
/// process resumed by someone), and a chaos tool must notice.
public protocol FaultInjector: Sendable {
    associatedtype Fault: Codable & Sendable
    associatedtype UndoStep: Codable & Sendable

    /// The family name kept in the journal (`network`).
    static var family: String { get }

    func apply(_ fault: Fault, attack: String, recorder: ChangeRecorder) throws
    func recover(_ steps: [UndoStep], attack: String) throws

    /// What of the applied fault is no longer in place, read from the host
    /// through its recorded steps (the objects `apply` made); empty while
    /// the fault holds. A target that is gone is not a lost fault (there is
    /// nothing left to restore it into): that reads as holding.
    func check(_ steps: [UndoStep], attack: String) -> [String]
}

extension FaultInjector {
    public static func encodeStep(_ step: UndoStep) throws -> Data {
        try JSONEncoder().encode(step)
    }

    public static func decodeStep(_ data: Data) throws -> UndoStep {
        try JSONDecoder().decode(UndoStep.self, from: data)
    }

    /// Undoes `steps` newest first, every one even when an earlier one
    /// failed, and throws one error naming every failure: what most
    /// families' `recover` is.
    public func undoEach(_ steps: [UndoStep], _ undo: (UndoStep) throws -> Void) throws {
        var failures: [String] = []
        for step in steps.reversed() {
            do { try undo(step) } catch { failures.append(String(describing: error)) }
        }
        if !failures.isEmpty {
            throw FaultError(.recoverFailed, "could not undo everything: " + failures.joined(separator: "; "))
        }
    }
}

/// An injector error: what failed, in words a user can act on.
public struct FaultError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unsupported, invalidFault, applyFailed, readBackFailed, recoverFailed
    }

    public var code: Code
    public var message: String
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: Error? = nil) {
        self.code = code
        self.message = message
        self.cause = cause.map { String(describing: $0) }
    }

    public var description: String {
        cause.map { "\(message): \($0)" } ?? message
    }
}
