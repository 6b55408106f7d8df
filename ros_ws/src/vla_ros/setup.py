from setuptools import find_packages, setup

package_name = 'vla_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='VLA maintainers',
    maintainer_email='vla-maintainers@example.com',
    description='ROS 2 nodes of the VLA stack (policy, simulated robot, recorder, heartbeat).',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'policy_node = vla_ros.policy_node:main',
            'sim_robot_node = vla_ros.sim_robot_node:main',
            'recorder_node = vla_ros.recorder_node:main',
            'heartbeat_node = vla_ros.heartbeat_node:main',
            'teleop_node = vla_ros.teleop_node:main',
            'robot_state_node = vla_ros.robot_state_node:main',
        ],
    },
)
