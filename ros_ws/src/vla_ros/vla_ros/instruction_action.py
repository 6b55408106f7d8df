"""The policy node's FollowInstruction action server (feedback and cancel)."""

import time

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from vla.ros_core.goals import goal_outcome
from vla_interfaces.action import FollowInstruction

FEEDBACK_PERIOD_S = 0.2


class InstructionActionServer:
    """Serve ~/follow_instruction for a PolicyNode: set the instruction, report, stop."""

    def __init__(self, node):
        self.node = node
        self.server = ActionServer(
            node,
            FollowInstruction,
            '~/follow_instruction',
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )

    def destroy(self):
        self.server.destroy()

    def _on_goal(self, request):
        loop = self.node.loop
        if loop is None or not loop.enabled or not request.instruction.strip():
            return GoalResponse.REJECT  # inactive node or empty instruction
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle):
        loop, request = self.node.loop, goal_handle.request
        loop.set_instruction(request.instruction)
        start, steps0 = time.monotonic(), self.node.commands_sent
        feedback = FollowInstruction.Feedback()
        while True:
            elapsed = time.monotonic() - start
            outcome = goal_outcome(
                request.instruction, loop.task, goal_handle.is_cancel_requested,
                loop.safety.estopped, elapsed, request.time_limit_s)
            if outcome is not None:
                break
            status = loop.status()
            feedback.safety_state, feedback.reason = status['state'], status['reason']
            feedback.steps = self.node.commands_sent - steps0
            feedback.elapsed_s = elapsed
            goal_handle.publish_feedback(feedback)
            time.sleep(FEEDBACK_PERIOD_S)
        if outcome.status != 'aborted' or loop.task == request.instruction.strip():
            loop.clear_instruction()  # the arm holds: the next tick is "not active"
        {'succeeded': goal_handle.succeed, 'canceled': goal_handle.canceled,
         'aborted': goal_handle.abort}[outcome.status]()
        return FollowInstruction.Result(
            completed=outcome.completed, reason=outcome.reason,
            steps=self.node.commands_sent - steps0, elapsed_s=time.monotonic() - start)
