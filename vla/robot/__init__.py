"""The robot itself, below both the simulator (``sim``) and the ROS side (``vla.ros_core``).

    panda.py       Franka Panda facts: joint names and limits, TCP offset, gripper, home pose
    kinematics.py  numpy forward kinematics + Jacobian from the URDF; PandaKinematics (an ArmState)
    controller.py  EEF delta -> damped-least-squares IK -> joint targets (ArmController), typed
                   against the ArmState protocol that sim's Physics and PandaKinematics satisfy
    chunks.py      action chunk -> one action per control step (ChunkExecutor: open loop or
                   temporal ensembling) and its pull adapter ChunkBroker (Policy, the server)

numpy only (tests/test_layering.py holds it to that), so a robot process imports no simulator,
gymnasium or torch to turn a policy's action into joint targets.
"""
